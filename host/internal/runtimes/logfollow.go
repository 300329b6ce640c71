package runtimes

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
)

// followInterval is how often a plugin's log file is looked at. A stat per
// runtime four times a second costs nothing; log lines arrive a little
// late, which matters to nobody.
const followInterval = 250 * time.Millisecond

// maxLogLine bounds a log line, as go-plugin bounds those on stderr; what
// is longer is forwarded in pieces.
const maxLogLine = 64 << 10

// logFollower forwards the lines a plugin launched to outlive the host
// writes to its log file to a logger, the way go-plugin forwards those on
// a plugin's stderr. It keeps how far it got in a file beside the log
// (<log>.pos), so that the next host process, reattaching to the plugin,
// goes on from there: it forwards what was written while no host was
// there, and nothing twice.
type logFollower struct {
	path string
	log  hclog.Logger
	stop chan struct{}
	once sync.Once
	done chan struct{}

	// Owned by run.
	pos     logPos
	inPanic bool
}

// logPos is how far a log file was forwarded. The inode tells the file a
// position is about from a newer one at the same path.
type logPos struct {
	Inode  uint64 `json:"inode"`
	Offset int64  `json:"offset"`
}

// followLog forwards path's lines to log from where the last follower of
// path stopped, until Stop.
func followLog(path string, log hclog.Logger) *logFollower {
	f := &logFollower{path: path, log: log, stop: make(chan struct{}), done: make(chan struct{})}
	if b, err := os.ReadFile(posPath(path)); err == nil {
		_ = json.Unmarshal(b, &f.pos)
	}
	go f.run()
	return f
}

func posPath(logPath string) string { return logPath + ".pos" }

// rotateLog starts a new log at path for a new plugin process. The last
// one's log stays, as <path>.1, for its crash report; older ones go.
func rotateLog(path string) error {
	if err := os.Remove(posPath(path)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Rename(path, path+".1"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Stop forwards what the file holds still, and stops.
func (f *logFollower) Stop() {
	f.once.Do(func() { close(f.stop) })
	<-f.done
}

func (f *logFollower) run() {
	defer close(f.done)
	t := time.NewTicker(followInterval)
	defer t.Stop()
	for {
		f.poll()
		select {
		case <-f.stop:
			f.poll()
			return
		case <-t.C:
		}
	}
}

// poll forwards the complete lines written since the last poll.
func (f *logFollower) poll() {
	file, err := os.Open(f.path)
	if err != nil {
		return // not written yet
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return
	}
	var inode uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		inode = st.Ino
	}
	if inode != f.pos.Inode || fi.Size() < f.pos.Offset {
		f.pos = logPos{Inode: inode}
	}
	if fi.Size() == f.pos.Offset {
		return
	}
	r := bufio.NewReaderSize(io.NewSectionReader(file, f.pos.Offset, fi.Size()-f.pos.Offset), maxLogLine)
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			f.forward(string(line))
			f.pos.Offset += int64(len(line))
			continue
		}
		if err != nil {
			break // a line still being written stays for the next poll
		}
		f.forward(strings.TrimSuffix(string(line), "\n"))
		f.pos.Offset += int64(len(line))
	}
	f.savePos()
}

// savePos writes the position beside the log, atomically: a torn write
// would make the next host repeat or skip lines.
func (f *logFollower) savePos() {
	b, _ := json.Marshal(f.pos)
	tmp := posPath(f.path) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return
	}
	_ = os.Rename(tmp, posPath(f.path))
}

// forward logs one line as go-plugin logs a line of a plugin's stderr: a
// JSON line from hclog as an entry of its level, with its fields, and any
// other line at a level guessed from its start.
func (f *logFollower) forward(line string) {
	if line == "" || f.log.GetLevel() == hclog.Off {
		return
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(line), &entry); err != nil {
		f.forwardText(line)
		return
	}
	level := hclog.NoLevel
	if s, ok := entry["@level"].(string); ok {
		level = hclog.LevelFromString(s)
	}
	msg, _ := entry["@message"].(string)
	if level == hclog.NoLevel {
		f.log.Debug(line)
		return
	}
	if level < f.log.GetLevel() {
		return
	}
	args := make([]any, 0, 2*len(entry))
	for _, k := range slices.Sorted(maps.Keys(entry)) {
		switch k {
		case "@level", "@message", "@timestamp":
		default:
			args = append(args, k, entry[k])
		}
	}
	if ts, ok := entry["@timestamp"]; ok {
		args = append(args, "timestamp", ts)
	}
	f.log.Log(level, msg, args...)
}

func (f *logFollower) forwardText(line string) {
	for _, p := range []struct {
		prefix string
		level  hclog.Level
	}{
		{"[TRACE]", hclog.Trace}, {"[DEBUG]", hclog.Debug}, {"[INFO]", hclog.Info},
		{"[WARN]", hclog.Warn}, {"[ERROR]", hclog.Error},
	} {
		if strings.HasPrefix(line, p.prefix) {
			f.log.Log(p.level, line)
			return
		}
	}
	// A crash report: its first line, then everything untagged after it.
	if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") {
		f.inPanic = true
	}
	if f.inPanic {
		f.log.Error(line)
		return
	}
	f.log.Debug(line)
}
