package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// bbolt trusts its file: a damaged page can make it panic, fault on memory
// past the end of the file, or loop forever following pages that point back
// up the tree, and that in the middle of the host's work. So before the host
// opens an existing file for writing, check opens it read-only (bbolt itself
// guarded by recover and SetPanicOnFault) and walks every page bbolt can
// reach: the tree of buckets from the meta page and the freelist. The walk
// reads the whole file once, and that is cheap enough to do at every start
// whatever the size: a 278 MiB store took 30-45ms from the page cache; from
// a cold disk it takes what reading the file takes. Sweep keeps files far
// smaller than that.
//
// bbolt's own tx.Check is no substitute: it follows the same pointers with
// the same trust, so it recurses forever on a cycle.

// check refuses an existing file unless it is a parallax store (or an empty
// bbolt file) of a schema this host reads, with pages bbolt can be trusted
// with. It never writes to the file.
func check(path string) (err error) {
	var f *os.File
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if f != nil {
				_ = f.Close() // drops the lock bbolt took
			}
			err = damaged(path, fmt.Errorf("bbolt: %v", r))
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		ReadOnly: true,
		Timeout:  lockTimeout,
		OpenFile: capture(&f),
	})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return inUse(path)
	case err != nil:
		return damaged(path, err)
	}
	defer func() { _ = db.Close() }()

	info, err := f.Stat()
	if err != nil {
		return damaged(path, err)
	}
	txid, err := checkPages(f, info.Size(), db.Info().PageSize)
	if err != nil {
		return damaged(path, err)
	}
	var version int
	err = db.View(func(tx *bolt.Tx) (err error) {
		if uint64(tx.ID()) != txid {
			return fmt.Errorf("bbolt reads transaction %d, the check read %d", tx.ID(), txid)
		}
		version, err = schemaOf(tx)
		return err
	})
	if err != nil {
		return damaged(path, err)
	}
	if version > SchemaVersion {
		return newerSchema(path, version)
	}
	return nil
}

// bbolt's file format (go.etcd.io/bbolt/internal/common), in the machine's
// byte order. A page starts with a header: id u64, flags u16, count u16,
// overflow u32. Elements follow it: a branch element is pos u32, ksize u32,
// child u64; a leaf element is flags u32, pos u32, ksize u32, vsize u32;
// pos counts from the element itself. A meta page holds magic u32,
// version u32, pageSize u32, flags u32, root bucket (root u64, sequence u64),
// freelist u64, pgid u64, txid u64, checksum u64 (FNV-1a of what precedes).
// A bucket's value starts with its root page id and sequence; a root of 0
// means the bucket's page follows inline.
const (
	pageHeaderSize   = 16
	elementSize      = 16
	bucketHeaderSize = 16
	metaSize         = 64
	metaChecksumAt   = 56

	flagBranch   = 0x01
	flagLeaf     = 0x02
	flagFreelist = 0x10
	leafIsBucket = 0x01

	boltMagic   = 0xED0CDAED
	boltVersion = 2
	noFreelist  = ^uint64(0)
)

var native = binary.NativeEndian

type meta struct {
	pageSize                   uint32
	root, freelist, pgid, txid uint64
}

// checkPages walks the pages bbolt reaches from the meta page it will use
// and returns that meta's transaction id.
func checkPages(r io.ReaderAt, size int64, pageSize int) (uint64, error) {
	ps := int64(pageSize)
	if ps < 1024 || ps > 1<<24 || ps&(ps-1) != 0 {
		return 0, fmt.Errorf("page size %d", ps)
	}
	// bbolt uses the meta of the later transaction, the other if that one
	// is invalid (a torn write).
	m0, ok0 := readMeta(r, 0)
	m1, ok1 := readMeta(r, ps)
	var m meta
	switch {
	case ok0 && (!ok1 || m0.txid >= m1.txid):
		m = m0
	case ok1:
		m = m1
	default:
		return 0, errors.New("no valid meta page")
	}
	if int64(m.pageSize) != ps {
		return 0, fmt.Errorf("meta page size %d, file read with %d", m.pageSize, ps)
	}
	// bbolt grows the file before it writes a meta that counts more pages,
	// so a shorter file was cut.
	if m.pgid < 3 || m.pgid > uint64(size/ps) {
		return 0, fmt.Errorf("the meta counts %d pages, the file holds %d: truncated?", m.pgid, size/ps)
	}

	w := &walker{r: r, ps: ps, hwm: m.pgid, used: newBitset(m.pgid), freed: newBitset(m.pgid)}
	w.used.set(0)
	w.used.set(1)
	if m.freelist != noFreelist {
		if err := w.freelist(m.freelist); err != nil {
			return 0, err
		}
	}
	if err := w.tree(m.root); err != nil {
		return 0, err
	}
	return m.txid, nil
}

func readMeta(r io.ReaderAt, off int64) (meta, bool) {
	var b [pageHeaderSize + metaSize]byte
	if _, err := r.ReadAt(b[:], off); err != nil {
		return meta{}, false
	}
	m := b[pageHeaderSize:]
	h := fnv.New64a()
	_, _ = h.Write(m[:metaChecksumAt])
	if native.Uint32(m[0:]) != boltMagic || native.Uint32(m[4:]) != boltVersion || native.Uint64(m[metaChecksumAt:]) != h.Sum64() {
		return meta{}, false
	}
	return meta{
		pageSize: native.Uint32(m[8:]),
		root:     native.Uint64(m[16:]),
		freelist: native.Uint64(m[32:]),
		pgid:     native.Uint64(m[40:]),
		txid:     native.Uint64(m[48:]),
	}, true
}

type walker struct {
	r     io.ReaderAt
	ps    int64
	hwm   uint64 // pages below it are in use or free
	used  bitset
	freed bitset
	buf   []byte
}

// freelist records the free pages, each once, none of them a meta page or
// the freelist's.
func (w *walker) freelist(id uint64) error {
	p, err := w.read(id)
	if err != nil {
		return err
	}
	if f := native.Uint16(p[8:]); f != flagFreelist {
		return fmt.Errorf("freelist page %d: unexpected type %#x", id, f)
	}
	// A count of 0xFFFF means the real count is the first id.
	start, count := uint64(pageHeaderSize), uint64(native.Uint16(p[10:]))
	if count == 0xFFFF {
		if len(p) < pageHeaderSize+8 {
			return fmt.Errorf("freelist page %d: too short", id)
		}
		start, count = pageHeaderSize+8, native.Uint64(p[pageHeaderSize:])
	}
	if count > (uint64(len(p))-start)/8 {
		return fmt.Errorf("freelist page %d: %d ids overrun it", id, count)
	}
	for i := range count {
		free := native.Uint64(p[start+8*i:])
		if free < 2 || free >= w.hwm {
			return fmt.Errorf("freelist page %d: page %d out of bounds", id, free)
		}
		if w.freed.has(free) {
			return fmt.Errorf("freelist page %d: page %d freed twice", id, free)
		}
		w.freed.set(free)
	}
	// bbolt frees the freelist's own pages at the next commit.
	for i := id; i <= id+uint64(len(p))/uint64(w.ps)-1; i++ {
		if w.freed.has(i) {
			return fmt.Errorf("freelist page %d: lists itself", id)
		}
	}
	return nil
}

// tree walks the tree of buckets from the root bucket's page. Each page may
// be reached once: that is what rules out cycles.
func (w *walker) tree(root uint64) error {
	stack := []uint64{root}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		p, err := w.read(id)
		if err != nil {
			return err
		}
		children, err := node(p, false)
		if err != nil {
			return fmt.Errorf("page %d: %w", id, err)
		}
		stack = append(stack, children...)
	}
	return nil
}

// read marks page id and its overflow as used and returns their bytes.
func (w *walker) read(id uint64) ([]byte, error) {
	if id < 2 || id >= w.hwm {
		return nil, fmt.Errorf("page %d: out of bounds (%d pages)", id, w.hwm)
	}
	var h [pageHeaderSize]byte
	if _, err := w.r.ReadAt(h[:], int64(id)*w.ps); err != nil {
		return nil, fmt.Errorf("page %d: %w", id, err)
	}
	if got := native.Uint64(h[0:]); got != id {
		return nil, fmt.Errorf("page %d: says it is page %d", id, got)
	}
	overflow := uint64(native.Uint32(h[12:]))
	if overflow >= w.hwm-id {
		return nil, fmt.Errorf("page %d: %d overflow pages run out of bounds", id, overflow)
	}
	for i := id; i <= id+overflow; i++ {
		if w.used.has(i) {
			return nil, fmt.Errorf("page %d: reached twice", i)
		}
		if w.freed.has(i) {
			return nil, fmt.Errorf("page %d: both in use and free", i)
		}
		w.used.set(i)
	}
	n := int64(1+overflow) * w.ps
	if int64(cap(w.buf)) < n {
		w.buf = make([]byte, n)
	}
	p := w.buf[:n]
	if _, err := w.r.ReadAt(p, int64(id)*w.ps); err != nil {
		return nil, fmt.Errorf("page %d: %w", id, err)
	}
	return p, nil
}

// node checks a branch or leaf page (or an inline bucket's page) and returns
// the pages it points to: a branch's children, a leaf's buckets' roots.
// Keys must be non-empty and ascending, and everything within the page.
func node(p []byte, inline bool) (children []uint64, err error) {
	if len(p) < pageHeaderSize {
		return nil, errors.New("page too short")
	}
	flags, count := native.Uint16(p[8:]), int(native.Uint16(p[10:]))
	if pageHeaderSize+count*elementSize > len(p) {
		return nil, fmt.Errorf("%d elements overrun the page", count)
	}
	switch {
	case flags == flagBranch && !inline:
		if count == 0 {
			return nil, errors.New("empty branch")
		}
	case flags == flagLeaf:
	default:
		return nil, fmt.Errorf("unexpected type %#x", flags)
	}
	var prev []byte
	for i := range count {
		at := pageHeaderSize + i*elementSize
		e := p[at : at+elementSize]
		var key []byte
		if flags == flagBranch {
			if key, err = span(p, at, native.Uint32(e[0:]), uint64(native.Uint32(e[4:]))); err != nil {
				return nil, err
			}
			children = append(children, native.Uint64(e[8:]))
		} else {
			pos, ksize, vsize := native.Uint32(e[4:]), native.Uint32(e[8:]), native.Uint32(e[12:])
			kv, err := span(p, at, pos, uint64(ksize)+uint64(vsize))
			if err != nil {
				return nil, err
			}
			key = kv[:ksize]
			if native.Uint32(e[0:])&leafIsBucket != 0 {
				root, err := bucketRoot(kv[ksize:], inline)
				if err != nil {
					return nil, err
				}
				if root != 0 {
					children = append(children, root)
				}
			}
		}
		if len(key) == 0 {
			return nil, fmt.Errorf("element %d: empty key", i)
		}
		if prev != nil && bytes.Compare(prev, key) >= 0 {
			return nil, fmt.Errorf("element %d: keys out of order", i)
		}
		prev = key
	}
	return children, nil
}

// bucketRoot checks a bucket's value: its root page, or its inline page.
// bbolt never inlines a bucket that holds buckets.
func bucketRoot(v []byte, inline bool) (uint64, error) {
	if len(v) < bucketHeaderSize {
		return 0, errors.New("bucket value too short")
	}
	if inline {
		return 0, errors.New("bucket inside an inline bucket")
	}
	if root := native.Uint64(v); root != 0 {
		return root, nil
	}
	if _, err := node(v[bucketHeaderSize:], true); err != nil {
		return 0, fmt.Errorf("inline bucket: %w", err)
	}
	return 0, nil
}

// span returns n bytes at pos from the element at offset at.
func span(p []byte, at int, pos uint32, n uint64) ([]byte, error) {
	start := uint64(at) + uint64(pos)
	end := start + n
	if end > uint64(len(p)) {
		return nil, errors.New("element overruns the page")
	}
	return p[start:end], nil
}

type bitset []uint64

func newBitset(n uint64) bitset    { return make(bitset, (n+63)/64) }
func (b bitset) has(i uint64) bool { return b[i/64]&(1<<(i%64)) != 0 }
func (b bitset) set(i uint64)      { b[i/64] |= 1 << (i % 64) }
