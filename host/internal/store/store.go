package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

const (
	// DefaultOutputCap is the terminal output kept per agent by default.
	DefaultOutputCap = 8 << 20
	// SchemaVersion is the layout of the file this host writes. A host
	// refuses a file of a newer version rather than misread it.
	SchemaVersion = 1
	// MaxStatuses bounds the status changes kept in an agent's record.
	MaxStatuses = 100

	defaultFlushInterval = 25 * time.Millisecond
)

// lockTimeout is how long Open waits for another process's lock on the file:
// long enough for a host that is just stopping, short enough to fail fast.
var lockTimeout = time.Second

// Errors Open wraps, for callers that tell the cases apart.
var (
	ErrInUse     = errors.New("store in use")
	ErrDamaged   = errors.New("not a parallax store or damaged")
	ErrNewSchema = errors.New("store schema newer than this host")
	ErrClosed    = errors.New("store closed")
)

// The file's buckets. meta holds the schema version and what must outlive
// the records it describes (the last event's seq, once events are swept).
var (
	bucketMeta        = []byte("meta")
	bucketAgents      = []byte("agents")
	bucketTranscripts = []byte("transcripts") // a bucket per agent: seq → Entry
	bucketOutput      = []byte("output")      // a bucket per agent: chunk number → bytes
	bucketEvents      = []byte("events")      // seq → time, raw
	bucketExecutions  = []byte("executions")  // id → startedAt, raw

	keySchema       = []byte("schema")
	keyLastEventSeq = []byte("lastEventSeq")

	dataBuckets = [][]byte{bucketAgents, bucketTranscripts, bucketOutput, bucketEvents, bucketExecutions}
)

// Options configure a Store.
type Options struct {
	// OutputCap bounds the terminal output kept per agent; the oldest bytes
	// go first. 0 means DefaultOutputCap.
	OutputCap int64
	// FlushInterval is how long queued writes may wait before they are
	// committed; 0 means 25ms.
	FlushInterval time.Duration
	// Logger; nil means none.
	Logger hclog.Logger
}

// Store is the host's embedded store. Its methods are safe for concurrent use.
type Store struct {
	path      string
	db        *bolt.DB
	log       hclog.Logger
	outputCap int64
	interval  time.Duration

	lastEventSeq atomic.Uint64

	// The queue (queue.go).
	mu       sync.Mutex
	drained  *sync.Cond // a commit took bytes off the queue
	pending  *batch
	inflight *batch
	queued   int64 // bytes in pending and inflight
	closed   bool
	wake     chan struct{} // pending became non-empty
	urgent   chan struct{} // commit now: someone waits, or much is queued
	stop     chan struct{}
	exited   chan struct{}

	closeOnce sync.Once
	closeErr  error

	// outSize caches each agent's kept output; only the committing
	// goroutine touches it.
	outSize map[string]int64
}

// Open opens the store at path, creating it (0600) if it does not exist.
// It refuses a file another process holds, a file that is not a parallax
// store or is damaged, and one of a newer schema, and never changes such a
// file.
func Open(path string, opts Options) (*Store, error) {
	if opts.OutputCap <= 0 {
		opts.OutputCap = DefaultOutputCap
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = defaultFlushInterval
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("store %s: %w", path, err)
	case !info.Mode().IsRegular():
		return nil, damaged(path, errors.New("not a regular file"))
	case info.Size() > 0:
		// An existing file is checked read-only first, so that a file the
		// host refuses is never written to, not even by bbolt's open.
		if err := check(path); err != nil {
			return nil, err
		}
	}

	db, err := openRW(path)
	if err != nil {
		return nil, err
	}
	s := &Store{
		path:      path,
		db:        db,
		log:       opts.Logger.Named("store"),
		outputCap: opts.OutputCap,
		interval:  opts.FlushInterval,
		pending:   newBatch(),
		wake:      make(chan struct{}, 1),
		urgent:    make(chan struct{}, 1),
		stop:      make(chan struct{}),
		exited:    make(chan struct{}),
		outSize:   map[string]int64{},
	}
	s.drained = sync.NewCond(&s.mu)
	if err := s.initSchema(); err != nil {
		_ = db.Close()
		return nil, err
	}
	go s.run()
	return s, nil
}

// openRW opens the file for writing, after check passed or for a new file.
func openRW(path string) (db *bolt.DB, err error) {
	var f *os.File
	defer func() {
		if r := recover(); r != nil {
			if f != nil {
				_ = f.Close()
			}
			db, err = nil, damaged(path, fmt.Errorf("bbolt: %v", r))
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{
		Timeout:  lockTimeout,
		OpenFile: capture(&f),
	})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, inUse(path)
	case err != nil:
		return nil, damaged(path, err)
	}
	return db, nil
}

// capture opens files as bbolt would, keeping the last one so that it can
// be closed (and its lock dropped) when bbolt panics on a damaged file.
func capture(f **os.File) func(string, int, os.FileMode) (*os.File, error) {
	return func(name string, flag int, mode os.FileMode) (*os.File, error) {
		file, err := os.OpenFile(name, flag, mode)
		*f = file
		return file, err
	}
}

// initSchema writes the schema version into a new file and creates what a
// file of the current version may lack, then loads the last event's seq.
func (s *Store) initSchema() error {
	var (
		version int
		missing bool
	)
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		version, err = schemaOf(tx)
		for _, name := range dataBuckets {
			missing = missing || tx.Bucket(name) == nil
		}
		return err
	})
	if err != nil {
		return damaged(s.path, err)
	}
	if version > SchemaVersion {
		return newerSchema(s.path, version)
	}
	if version == 0 || missing {
		err = s.db.Update(func(tx *bolt.Tx) error {
			meta, err := tx.CreateBucketIfNotExists(bucketMeta)
			if err != nil {
				return err
			}
			if version == 0 {
				if err := meta.Put(keySchema, []byte(strconv.Itoa(SchemaVersion))); err != nil {
					return err
				}
			}
			for _, name := range dataBuckets {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return damaged(s.path, err)
		}
	}
	return s.db.View(func(tx *bolt.Tx) error {
		s.lastEventSeq.Store(lastEventSeq(tx))
		return nil
	})
}

// schemaOf returns the file's schema version: 0 for a file with no buckets
// at all (new), an error for one that holds another program's buckets.
func schemaOf(tx *bolt.Tx) (int, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		if k, _ := tx.Cursor().First(); k != nil {
			return 0, errors.New("it holds buckets but no parallax schema")
		}
		return 0, nil
	}
	v, err := strconv.Atoi(string(meta.Get(keySchema)))
	if err != nil || v < 1 {
		return 0, errors.New("no valid schema version")
	}
	return v, nil
}

// Path returns the file's path.
func (s *Store) Path() string { return s.path }

// Close commits everything queued, then closes the file. Later calls
// return what the first returned.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.drained.Broadcast() // writers blocked on a full queue give up
		s.mu.Unlock()
		close(s.stop)
		<-s.exited
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// The errors Open returns name the file and what to do about it.

func inUse(path string) error {
	return &openError{
		msg:  fmt.Sprintf("store %s is in use by another parallax-host; stop it or use another server.data_dir", path),
		kind: ErrInUse,
	}
}

func damaged(path string, cause error) error {
	return &openError{
		msg: fmt.Sprintf("store %s: not a parallax store or damaged (%s); move it aside to start afresh — the host never deletes it",
			path, cause),
		kind:  ErrDamaged,
		cause: cause,
	}
}

func newerSchema(path string, version int) error {
	return &openError{
		msg: fmt.Sprintf("store %s has schema version %d, newer than this host's %d; run a newer parallax-host, or move the file aside",
			path, version, SchemaVersion),
		kind: ErrNewSchema,
	}
}

type openError struct {
	msg   string
	kind  error
	cause error
}

func (e *openError) Error() string   { return e.msg }
func (e *openError) Unwrap() []error { return []error{e.kind, e.cause} }

// u64 is a key or value that sorts as the number does.
func u64(n uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), n)
}

// appendOnly tells bbolt that b's keys only grow, so that it fills the pages
// it splits rather than leave half of each for inserts that never come.
func appendOnly(b *bolt.Bucket) *bolt.Bucket {
	b.FillPercent = 0.95
	return b
}

// clone copies a slice bbolt hands out, valid only in its transaction.
func clone(b []byte) []byte {
	return append([]byte(nil), b...)
}
