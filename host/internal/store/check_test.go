package store

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// storeFile returns the bytes of a real store holding a little of
// everything, and roughly size bytes of output.
func storeFile(t testing.TB, size int) []byte {
	t.Helper()
	path := dbPath(t)
	s := mustOpen(t, path, Options{})
	s.PutAgent(Agent{ID: "a", Name: "n", CreatedAt: t0})
	s.AppendTranscript("a", Entry{Kind: KindSent, Text: "hi"})
	s.AppendEvent(1, t0, []byte(`{"event":"started"}`))
	s.PutExecution("x", t0, []byte(`{}`))
	for i := 0; i < size; i += 4096 {
		s.AppendOutput("a", bytes.Repeat([]byte{byte(i)}, 4096))
		_ = s.Flush() // many chunks, many pages
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return must[[]byte](t)(os.ReadFile(path))
}

// boltFile returns the bytes of a bbolt file that fill wrote.
func boltFile(t testing.TB, fill func(tx *bolt.Tx) error) []byte {
	t.Helper()
	path := dbPath(t)
	db := must[*bolt.DB](t)(bolt.Open(path, 0o600, nil))
	if err := db.Update(fill); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return must[[]byte](t)(os.ReadFile(path))
}

func TestOpenRefuses(t *testing.T) {
	garbage := make([]byte, 5*4096)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range garbage {
		garbage[i] = byte(r.Uint32())
	}
	real := storeFile(t, 1<<20)
	// Cut well below the pages the meta counts; cutting only the slack
	// bbolt grows files by would leave a sound file.
	truncated := real[:5*4096+123]
	foreign := boltFile(t, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("widgets"))
		if err != nil {
			return err
		}
		return b.Put([]byte("w1"), []byte("blue"))
	})
	schemaless := boltFile(t, func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket(bucketMeta)
		return err
	})
	newer := boltFile(t, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		return b.Put(keySchema, []byte("2"))
	})
	// A page of the store's that points back at itself: bbolt would
	// follow it forever.
	cyclic := selfReferencingBranch(t)

	tests := []struct {
		name string
		data []byte
		kind error
		says string
	}{
		{"garbage", garbage, ErrDamaged, "not a parallax store or damaged"},
		{"short garbage", []byte("hello"), ErrDamaged, "move it aside to start afresh — the host never deletes it"},
		{"truncated store", truncated, ErrDamaged, "truncated"},
		{"foreign bbolt file", foreign, ErrDamaged, "no parallax schema"},
		{"meta without a schema", schemaless, ErrDamaged, "no valid schema version"},
		{"newer schema", newer, ErrNewSchema, "has schema version 2, newer than this host's 1; run a newer parallax-host, or move the file aside"},
		{"page cycle", cyclic, ErrDamaged, "reached twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := dbPath(t)
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path, Options{})
			if err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("Open: %v; want %v naming %s and saying %q", err, tt.kind, path, tt.says)
			}
			if after := must[[]byte](t)(os.ReadFile(path)); !bytes.Equal(after, tt.data) {
				t.Error("the refused file changed")
			}
		})
	}
}

// selfReferencingBranch returns a store whose agent's output bucket has a
// branch page for root that lists itself as a child.
func selfReferencingBranch(t *testing.T) []byte {
	data := storeFile(t, 256<<10)
	path := dbPath(t)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	db := must[*bolt.DB](t)(bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true}))
	var root uint64
	_ = db.View(func(tx *bolt.Tx) error {
		root = uint64(tx.Bucket(bucketOutput).Bucket([]byte("a")).Root())
		return nil
	})
	_ = db.Close()
	p := data[root*4096:]
	if native.Uint16(p[8:]) != flagBranch {
		t.Fatalf("the output's root, page %d, is no branch", root)
	}
	native.PutUint64(p[pageHeaderSize+8:], root) // its first child: itself
	return data
}

func TestOpenAcceptsAnEmptyBoltFile(t *testing.T) {
	path := dbPath(t)
	if err := os.WriteFile(path, boltFile(t, func(*bolt.Tx) error { return nil }), 0o600); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, path, Options{})
	if err := s.PutAgentSync(Agent{ID: "a"}); err != nil {
		t.Fatal(err)
	}
}

func TestOpenFailsFastWhileInUse(t *testing.T) {
	defer func(d time.Duration) { lockTimeout = d }(lockTimeout)
	lockTimeout = 100 * time.Millisecond

	path := dbPath(t)
	mustOpen(t, path, Options{})
	s, err := Open(path, Options{})
	if err == nil {
		_ = s.Close()
		t.Fatal("a second Open of the file succeeded")
	}
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), path+" is in use by another parallax-host") {
		t.Errorf("second Open: %v; want ErrInUse naming the file", err)
	}
}

// Damage where bbolt looks first: page headers and element arrays of a
// real store, and meta pages with a field changed and the checksum fixed.
// The fuzzer rarely gets past the meta checksum; this does, every time.
func TestOpenDamagedStoreNeverPanics(t *testing.T) {
	base := storeFile(t, 64<<10)
	r := rand.New(rand.NewPCG(5, 6))
	dir := t.TempDir()
	for i := range 200 {
		data := bytes.Clone(base)
		for range 1 + r.IntN(4) {
			pos := (2+r.IntN(len(data)/4096-2))*4096 + r.IntN(512)
			switch r.IntN(3) {
			case 0:
				data[pos] = byte(r.Uint32())
			case 1:
				data[pos] ^= 1 << r.IntN(8)
			case 2:
				native.PutUint64(data[pos:], uint64(r.IntN(40))) // a plausible page id or size
			}
		}
		if r.IntN(4) == 0 {
			for _, off := range []int{0, 4096} {
				m := data[off+pageHeaderSize:]
				if field := 8 + 8*r.IntN(6); field == 8 {
					native.PutUint32(m[8:], 1<<r.IntN(20)) // page size
				} else {
					native.PutUint64(m[field:], uint64(r.IntN(80)))
				}
				h := fnv.New64a()
				_, _ = h.Write(m[:metaChecksumAt])
				native.PutUint64(m[metaChecksumAt:], h.Sum64())
			}
		}
		path := filepath.Join(dir, fmt.Sprint(i, ".db"))
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(path, Options{})
		if err != nil {
			if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
				t.Errorf("case %d: the refused file changed", i)
			}
			continue
		}
		exercise(t, s)
	}
}

// exercise reads and writes an opened store, as a host would.
func exercise(t *testing.T, s *Store) {
	t.Helper()
	defer func() { _ = s.Close() }()
	_, _ = s.Agents()
	_, _, _ = s.Agent("a")
	_, _ = s.Transcript("a")
	_, _ = s.Output("a")
	_ = s.EventsSince(0, func(uint64, []byte) error { return nil })
	_, _ = s.Executions()
	s.AppendOutput("a", bytes.Repeat([]byte("o"), 5000))
	s.AppendTranscript("a", Entry{Kind: KindSent, Text: "hi"})
	s.AppendEvent(s.LastEventSeq()+1, time.Now(), []byte(`{}`))
	if err := s.PutAgentSync(Agent{ID: "a", CreatedAt: t0}); err != nil {
		t.Errorf("PutAgentSync on an opened store: %v", err)
	}
	if _, err := s.Sweep(time.Now()); err != nil {
		t.Errorf("Sweep on an opened store: %v", err)
	}
	if out, err := s.Output("a"); err != nil || !bytes.Contains(out, []byte("ooooo")) {
		t.Errorf("Output: %d bytes, %v", len(out), err)
	}
}

// FuzzOpen opens arbitrary bytes as the store: Open returns an error and
// leaves the file as it was, or a store that works. Never a panic or a hang.
//
// An input that opens costs several fsyncs, and the fuzzer minimizes each
// new input for a minute by default, which looks like a hang (0 execs/sec)
// and is not. Fuzz with a tmpfs and a short minimization:
//
//	TMPDIR=/dev/shm go test -run XXX -fuzz FuzzOpen -fuzztime 3m -fuzzminimizetime 5s ./internal/store/
//
// Few mutations keep the meta page's checksum, so the fuzzer seldom reaches
// the page walk; TestOpenDamagedStoreNeverPanics damages pages behind a
// valid meta on purpose.
func FuzzOpen(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("not a database at all"))
	f.Add(bytes.Repeat([]byte{0xED, 0xDA, 0x0C, 0xED}, 2048))
	f.Add(storeFile(f, 16<<10))
	f.Add(boltFile(f, func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("widgets"))
		return err
	}))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "parallax.db")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(path, Options{})
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Errorf("the error does not name the file: %v", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
				t.Error("the refused file changed")
			}
			return
		}
		exercise(t, s)
	})
}
