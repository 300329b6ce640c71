package runtimes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parallax/parallax/sdk/runtimetest"
)

// A plugin's log lines become host log entries as go-plugin makes them of
// the lines on a plugin's stderr.
func TestLogLinesBecomeEntries(t *testing.T) {
	tests := []struct {
		name string
		line string
		want string // "" for no entry
	}{
		{"hclog JSON", `{"@level":"warn","@message":"engine slow","@module":"docker","@timestamp":"2026-01-02T03:04:05.000000Z","ms":12}`,
			`[WARN]  host.plugin: engine slow: @module=docker ms=12 timestamp=2026-01-02T03:04:05.000000Z`},
		{"below the host's level", `{"@level":"trace","@message":"chatter"}`, ""},
		{"JSON without a level", `{"a":1}`, `[DEBUG] host.plugin: {"a":1}`},
		{"tagged text", `[ERROR] oops`, `[ERROR] host.plugin: [ERROR] oops`},
		{"plain text", `hello`, `[DEBUG] host.plugin: hello`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf syncBuffer
			f := &logFollower{log: hclog.New(&hclog.LoggerOptions{Name: "host.plugin", Level: hclog.Debug, Output: &buf})}
			f.forward(tt.line)
			got := strings.TrimSpace(buf.String())
			if i := strings.Index(got, " "); i >= 0 {
				got = got[i+1:] // the host's own timestamp
			}
			if got != tt.want {
				t.Errorf("entry %q, want %q", got, tt.want)
			}
		})
	}
}

// A crash report is untagged text after "panic:"; all of it is an error.
func TestACrashReportIsAnError(t *testing.T) {
	var buf syncBuffer
	f := &logFollower{log: hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: &buf})}
	for _, line := range []string{"before", "panic: boom", "", "goroutine 1 [running]:", "main.main()"} {
		f.forward(line)
	}
	var levels []string
	for line := range strings.Lines(buf.String()) {
		levels = append(levels, strings.Fields(line)[1])
	}
	if got := strings.Join(levels, " "); got != "[DEBUG] [ERROR] [ERROR] [ERROR]" {
		t.Errorf("levels %s; want the crash report's lines as errors", got)
	}
}

// A follower goes on where the last one stopped: whole lines only, none
// twice, and from the start of a new file.
func TestFollowerGoesOnWhereTheLastStopped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plugin.log")
	entry := func(msg string) string { return `{"@level":"info","@message":"` + msg + `"}` }
	write := func(s string) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	follow := func(write func()) string {
		var buf syncBuffer
		f := followLog(path, hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: &buf}))
		write()
		f.Stop()
		return buf.String()
	}
	messages := func(log string) string {
		var out []string
		for line := range strings.Lines(log) {
			_, msg, _ := strings.Cut(line, "[INFO]  ")
			out = append(out, strings.TrimSpace(msg))
		}
		return strings.Join(out, ",")
	}

	steps := []struct {
		name  string
		write func()
		want  string
	}{
		{"first host", func() { write(entry("one") + "\n" + entry("two") + "\n" + `{"@level":"info","@mes`) }, "one,two"},
		{"next host, after the half line was done", func() { write(`sage":"three"}` + "\n") }, "three"},
		{"next host, nothing new", func() {}, ""},
		{"next host, a new file", func() {
			if err := rotateLog(path); err != nil {
				t.Fatal(err)
			}
			write(entry("new") + "\n")
		}, "new"},
	}
	for _, step := range steps {
		if got := messages(follow(step.write)); got != step.want {
			t.Errorf("%s forwarded %q, want %q", step.name, got, step.want)
		}
	}
}

// The follower picks up lines as they come, not only when stopped.
func TestFollowerForwardsAsLinesCome(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plugin.log")
	var buf syncBuffer
	f := followLog(path, hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: &buf}))
	defer f.Stop()
	if err := os.WriteFile(path, []byte(`{"@level":"info","@message":"live"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runtimetest.Eventually(t, 10*time.Second, "the line to be forwarded", func() bool {
		return strings.Contains(buf.String(), "live")
	}, buf.String)
}

func TestRecordRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), recordFile)
	rec := record{PluginPath: "/bin/p", ConfigHash: configHash("h1", []byte(`{}`))}
	rec.Reattach.PID, rec.Reattach.Network, rec.Reattach.Address, rec.Reattach.ProtocolVersion = 42, "unix", "/tmp/s", 1
	if err := writeRecord(path, rec); err != nil {
		t.Fatal(err)
	}
	got, err := readRecord(path)
	if err != nil || got != rec {
		t.Errorf("read %+v, %v; want %+v", got, err, rec)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("record file %v, %v; want mode 0600", fi, err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("files beside the record: %v; want none", entries)
	}
	for _, other := range []string{configHash("h2", []byte(`{}`)), configHash("h1", []byte(`{"a":1}`))} {
		if other == rec.ConfigHash {
			t.Error("another host instance or config has the same hash")
		}
	}
}
