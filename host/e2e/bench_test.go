package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/creack/pty"

	"github.com/parallax/parallax/host/internal/fakemodel"
	"github.com/parallax/parallax/host/internal/screen"
	"github.com/parallax/parallax/host/internal/screen/tuitest"
)

// BenchmarkSpawnLatency measures spawn-to-running through the whole chain:
// REST, host, plugin over gRPC, PTY. The POST returns once the process
// runs. Run with `make bench`.
func BenchmarkSpawnLatency(b *testing.B) {
	h := startHost(b, writeConfig(b, ""))
	const samples = 200
	var lat []time.Duration
	for range b.N {
		for range samples {
			var a agent
			start := time.Now()
			code := h.do("POST", "/api/managed-agents", map[string]any{"type": "custom", "command": []string{"sleep", "300"}}, &a)
			lat = append(lat, time.Since(start))
			// The POST returns once the process runs; "ready" needs its
			// screen to settle, which is the sessions' own bench.
			if code != http.StatusCreated || a.Status != "starting" {
				b.Fatalf("spawn: %d %+v", code, a)
			}
			h.do("DELETE", "/api/managed-agents/"+a.ID+"?force=true", nil, nil)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkSpawn100Concurrent measures the wall time to start 100 agents at
// once.
func BenchmarkSpawn100Concurrent(b *testing.B) {
	h := startHost(b, writeConfig(b, ""))
	var walls []time.Duration
	for range b.N {
		start := time.Now()
		ids := spawnAtOnce(b, h, 100, map[string]any{"type": "custom", "command": []string{"sleep", "300"}})
		walls = append(walls, time.Since(start))
		for _, id := range ids {
			h.do("DELETE", "/api/managed-agents/"+id+"?force=true", nil, nil)
		}
	}
	sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
	b.ReportMetric(ms(walls[len(walls)/2]), "ms/100-agents")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkSpawn100ConcurrentToReady measures the wall time from 100
// concurrent spawns of a custom bash agent over REST until all are ready:
// with the host's prompt marks, which tell each prompt as soon as it is
// drawn, and without them (an empty PROMPT_COMMAND), by a still screen.
func BenchmarkSpawn100ConcurrentToReady(b *testing.B) {
	h := startHost(b, writeConfig(b, ""))
	for _, tt := range []struct {
		name string
		env  map[string]string
	}{
		{"prompt-marks", nil},
		{"quiet-screen", map[string]string{"PROMPT_COMMAND": ""}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			var walls []time.Duration
			for range b.N {
				start := time.Now()
				ids := spawnAtOnce(b, h, 100, map[string]any{"type": "custom", "command": []string{"bash", "--norc", "--noprofile"}, "env": tt.env})
				var list []agent
				for {
					h.do("GET", "/api/managed-agents?status=ready", nil, &list)
					if len(list) >= len(ids) {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
				walls = append(walls, time.Since(start))
				for _, id := range ids {
					h.do("DELETE", "/api/managed-agents/"+id+"?force=true&purge=true", nil, nil)
				}
			}
			sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
			b.ReportMetric(ms(walls[len(walls)/2]), "ms/100-ready")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// spawnAtOnce sends n spawns of req at once and returns the agents' ids.
func spawnAtOnce(b *testing.B, h *host, n int, req map[string]any) []string {
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var a agent
			if code := h.do("POST", "/api/managed-agents", req, &a); code != http.StatusCreated {
				b.Errorf("spawn: %d", code)
			}
			ids[i] = a.ID
		}()
	}
	wg.Wait()
	return ids
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkWarmPoolSpawnToReady compares spawn-to-ready of the fake claude
// over REST: cold, on a host without a pool, then taken from a warm pool of
// two, which is refilled (untimed) before each spawn. The hosts run one
// after the other, so neither slows the other.
func BenchmarkWarmPoolSpawnToReady(b *testing.B) {
	const samples = 20
	marker := fmt.Sprintf("bench-pool-marker-%d", os.Getpid())
	cold := startHost(b, warmPoolConfig(b, marker, 0))
	var coldLat, pooledLat []time.Duration
	for range b.N {
		for range samples {
			coldLat = append(coldLat, spawnToReady(b, cold))
		}
	}
	cold.stop()

	pooled := startHost(b, warmPoolConfig(b, marker, 2))
	for range b.N {
		for range samples {
			eventually(b, "the pool to refill", func() bool { return len(pooled.pooledReady()) == 2 })
			pooledLat = append(pooledLat, spawnToReady(b, pooled))
		}
	}
	sort.Slice(coldLat, func(i, j int) bool { return coldLat[i] < coldLat[j] })
	sort.Slice(pooledLat, func(i, j int) bool { return pooledLat[i] < pooledLat[j] })
	b.ReportMetric(ms(coldLat[len(coldLat)/2]), "cold-p50-ms")
	b.ReportMetric(ms(pooledLat[len(pooledLat)/2]), "pooled-p50-ms")
	b.ReportMetric(0, "ns/op")
}

// spawnToReady spawns a claude, times it until the API says ready, and
// deletes it.
func spawnToReady(b *testing.B, h *host) time.Duration {
	var a agent
	start := time.Now()
	if code := h.do("POST", "/api/managed-agents", map[string]any{"type": "claude"}, &a); code != http.StatusCreated {
		b.Fatalf("spawn: %d; log:\n%s", code, h.logs())
	}
	for a.Status != "ready" {
		if a.Status == "error" || a.Status == "stopped" || time.Since(start) > time.Minute {
			b.Fatalf("agent %+v did not get ready", a)
		}
		time.Sleep(2 * time.Millisecond)
		h.do("GET", "/api/managed-agents/"+a.ID, nil, &a)
	}
	took := time.Since(start)
	h.do("DELETE", "/api/managed-agents/"+a.ID+"?force=true", nil, nil)
	return took
}

// BenchmarkRealCLI_SpawnToReady measures each real CLI through the host
// against its fake model: spawn until ready, beside the time its prompt
// was first drawn, and a turn until the reply is returned, beside the time
// the reply was first drawn, both taken from the same run's terminal
// stream. Claude Code runs at the pinned release and, when `make bench`
// installed it (PARALLAX_CLAUDE_PREVIOUS), at the one before.
func BenchmarkRealCLI_SpawnToReady(b *testing.B) {
	bin := os.Getenv("PARALLAX_AGENT_CLIS")
	if bin == "" {
		b.Skip("PARALLAX_AGENT_CLIS is not set")
	}
	anthropic := fakemodel.NewAnthropic()
	b.Cleanup(anthropic.Close)
	openai := fakemodel.NewOpenAIResponses()
	b.Cleanup(openai.Close)
	type cli struct {
		name, typ, bin, agentType string
		creds                     map[string]string
		// prompt matches the screen once the CLI's prompt is up.
		prompt *regexp.Regexp
	}
	claudePrompt := regexp.MustCompile(`for shortcuts|mode on|permissions on`)
	clis := []cli{
		{"claude", "claude", bin, claudeType(bin, anthropic.URL()), map[string]string{"anthropicKey": fakeKey}, claudePrompt},
		{"claude-previous", "claude", os.Getenv("PARALLAX_CLAUDE_PREVIOUS"), "", map[string]string{"anthropicKey": fakeKey}, claudePrompt},
		{"codex", "codex", bin, codexType(bin, openai.URL()), map[string]string{"openaiKey": "sk-FAKE-parallax-codex-bench"},
			regexp.MustCompile(`for agents · \? for shortcuts`)},
	}
	for _, c := range clis {
		b.Run(c.name, func(b *testing.B) {
			if c.bin == "" {
				b.Skip("PARALLAX_CLAUDE_PREVIOUS is not set: `make bench` installs test/agent-clis/previous")
			}
			if c.agentType == "" {
				c.agentType = claudeType(c.bin, anthropic.URL())
			}
			benchSpawnToReady(b, startHost(b, writeConfigWith(b, "", c.agentType)), c.typ, c.creds, c.prompt)
		})
	}
}

// benchSpawnToReady spawns agents of typ on h one by one, sends each a
// message, and reports the p50s.
func benchSpawnToReady(b *testing.B, h *host, typ string, creds map[string]string, prompt *regexp.Regexp) {
	reply := regexp.MustCompile(regexp.QuoteMeta(fakemodel.DefaultReply))
	const samples = 5
	var drawnAt, ready, replyDrawn, turn []time.Duration
	for range b.N {
		for range samples {
			var a agent
			start := time.Now()
			if code := h.do("POST", "/api/managed-agents", map[string]any{
				"type": typ, "workdir": b.TempDir(), "credentials": creds,
			}, &a); code != http.StatusCreated {
				b.Fatalf("spawn: %d", code)
			}
			tm := h.attachTerm(a.ID)
			drawn := firstMatch(tm, prompt, 0)
			h.waitStatus(a.ID, "ready")
			ready = append(ready, time.Since(start))
			drawnAt = append(drawnAt, (<-drawn).Sub(start))
			start = time.Now()
			replied := firstMatch(tm, reply, len(tm.output()))
			var r sendReply
			if code := h.do("POST", "/api/managed-agents/"+a.ID+"/send", map[string]any{"message": "say hello", "expectResponse": true, "timeout": 60}, &r); code != 200 || r.Message.Content != fakemodel.DefaultReply {
				b.Fatalf("send: %d %q", code, r.Message.Content)
			}
			turn = append(turn, time.Since(start))
			replyDrawn = append(replyDrawn, (<-replied).Sub(start))
			h.do("DELETE", "/api/managed-agents/"+a.ID+"?force=true&purge=true", nil, nil)
		}
	}
	for _, m := range []struct {
		d    []time.Duration
		unit string
	}{{drawnAt, "prompt-drawn-p50-ms"}, {ready, "ready-p50-ms"}, {replyDrawn, "reply-drawn-p50-ms"}, {turn, "turn-p50-ms"}} {
		sort.Slice(m.d, func(i, j int) bool { return m.d[i] < m.d[j] })
		b.ReportMetric(ms(m.d[len(m.d)/2]), m.unit)
	}
	b.ReportMetric(0, "ns/op")
}

// firstMatch gets the time re first matches the screen tm's output draws
// past offset from (a TUI places words by cursor moves, so the raw stream
// would not match), looked at every 2 ms; the time it gave up if it never
// does.
func firstMatch(tm *term, re *regexp.Regexp, from int) <-chan time.Time {
	at := make(chan time.Time, 1)
	go func() {
		sc := screen.New(120, 40) // the agents' terminal size
		seen := 0
		for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
			out := tm.output()
			_, _ = sc.Write([]byte(out[seen:]))
			seen = len(out)
			if seen > from && re.MatchString(sc.Lines().Text()) {
				at <- time.Now()
				return
			}
		}
		at <- time.Now()
	}()
	return at
}

// BenchmarkIdle100Agents measures what 100 idle agents cost: the CPU time
// the host and its plugin use over 5 s while the agents wait at their
// prompts, as a percent of one core.
func BenchmarkIdle100Agents(b *testing.B) {
	h := startHost(b, writeConfig(b, ""))
	for i := range 100 {
		var a agent
		if code := h.do("POST", "/api/managed-agents", map[string]any{
			"type": "custom", "command": []string{"/bin/sh", "-c", "echo agent-" + fmt.Sprint(i) + "; exec sleep 600"},
		}, &a); code != http.StatusCreated {
			b.Fatalf("spawn: %d", code)
		}
	}
	var list []agent
	eventually(b, "100 ready agents", func() bool {
		h.do("GET", "/api/managed-agents?status=ready", nil, &list)
		return len(list) == 100
	})
	plugin := childNamed(b, h.cmd.Process.Pid, "parallax-runtime-local")
	for range b.N {
		before := cpuTicks(b, h.cmd.Process.Pid) + cpuTicks(b, plugin)
		const window = 5 * time.Second
		time.Sleep(window)
		used := cpuTicks(b, h.cmd.Process.Pid) + cpuTicks(b, plugin) - before
		// /proc counts in clock ticks of 10 ms, so 0 means under 0.2 %.
		b.ReportMetric(float64(used)*10/float64(window.Milliseconds())*100, "%core")
	}
	b.ReportMetric(0, "ns/op")
}

// cpuTicks returns a process's user+system time in clock ticks.
func cpuTicks(b *testing.B, pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var utime, stime int64
	fmt.Sscan(fields[11], &utime)
	fmt.Sscan(fields[12], &stime)
	return utime + stime
}

// tuiFile writes size bytes of TUI-like output to a file an agent can cat.
func tuiFile(b *testing.B, size int) string {
	path := filepath.Join(b.TempDir(), "tui.out")
	if err := os.WriteFile(path, tuitest.Output(size), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkTerminalThroughput compares agent output delivered to one
// terminal WebSocket client with the same output read straight from a PTY
// in this process, the ceiling. Both go through a PTY's line discipline.
// Each op does one of each, back to back, so both see the same machine.
func BenchmarkTerminalThroughput(b *testing.B) {
	const size = 32 << 20
	file := tuiFile(b, size)
	h := startHost(b, writeConfig(b, ""))
	plugin := childNamed(b, h.cmd.Process.Pid, "parallax-runtime-local")
	hostCPU, pluginCPU := cpuTicks(b, h.cmd.Process.Pid), cpuTicks(b, plugin)
	var ptyTime, wsTime time.Duration
	var delivered int64
	for range b.N {
		ptyTime += readPTY(b, file)
		d, n := readTerminalWS(b, h, file)
		wsTime += d
		delivered += n
	}
	ceiling := float64(size*b.N) / 1e6 / ptyTime.Seconds()
	// The runtime skips output the host reads slower than cat writes it,
	// so the rate is what arrived, not what was written.
	rate := float64(delivered) / 1e6 / wsTime.Seconds()
	b.ReportMetric(ceiling, "pty-MB/s")
	b.ReportMetric(rate, "delivered-MB/s")
	b.ReportMetric(100*rate/ceiling, "%of-pty")
	// Where the time goes, in CPU seconds per op (ticks are 10 ms).
	b.ReportMetric(float64(cpuTicks(b, h.cmd.Process.Pid)-hostCPU)/100/float64(b.N), "host-cpu-s/op")
	b.ReportMetric(float64(cpuTicks(b, plugin)-pluginCPU)/100/float64(b.N), "plugin-cpu-s/op")
	b.ReportMetric(0, "ns/op")
}

const endMark = "END-OF-OUTPUT"

// readPTY times reading file's contents from a PTY that cat writes them to.
func readPTY(b *testing.B, file string) time.Duration {
	cmd := exec.Command("/bin/sh", "-c", fmt.Sprintf("cat %s; echo %s", file, endMark))
	start := time.Now()
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 120, Rows: 40})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { f.Close(); _ = cmd.Wait() }()
	buf := make([]byte, 64<<10)
	var tail []byte
	for {
		n, err := f.Read(buf)
		if err != nil {
			b.Fatal(err)
		}
		tail = append(tail[max(0, len(tail)-len(endMark)):], buf[:n]...)
		if bytes.Contains(tail, []byte(endMark)) {
			return time.Since(start)
		}
	}
}

// readTerminalWS times an agent that cats file, from the keystroke that
// starts it to the end of its output on the terminal WebSocket, and counts
// the bytes that arrived.
func readTerminalWS(b *testing.B, h *host, file string) (time.Duration, int64) {
	script := fmt.Sprintf("read go; cat %s; echo %s; exec sleep 300", file, endMark)
	var a agent
	h.do("POST", "/api/managed-agents", map[string]any{"type": "custom", "command": []string{"/bin/sh", "-c", script}}, &a)
	defer h.do("DELETE", "/api/managed-agents/"+a.ID+"?force=true", nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, _, err := h.dialWS(ctx, "/ws/agents/"+a.ID+"/terminal", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(64 << 20)
	start := time.Now()
	if err := c.Write(ctx, websocket.MessageBinary, []byte("\r")); err != nil {
		b.Fatal(err)
	}
	// One buffer for every message, as a terminal in a browser would not
	// keep them either.
	buf := make([]byte, 64<<10)
	var tail []byte
	var got int64
	for {
		_, r, err := c.Reader(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for {
			n, err := r.Read(buf)
			got += int64(n)
			tail = append(tail[max(0, len(tail)-len(endMark)-2):], buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if bytes.Contains(tail, []byte(endMark+"\r\n")) {
			return time.Since(start), got
		}
	}
}

// BenchmarkKeystrokeRoundTrip measures one key from a WebSocket client to
// the agent's PTY and its echo back: WS, host, plugin, PTY and back.
func BenchmarkKeystrokeRoundTrip(b *testing.B) {
	h := startHost(b, writeConfig(b, ""))
	var a agent
	// The PTY's line discipline echoes what is typed; cat never answers.
	h.do("POST", "/api/managed-agents", map[string]any{"type": "custom", "command": []string{"cat"}}, &a)
	h.waitStatus(a.ID, "ready")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, _, err := h.dialWS(ctx, "/ws/agents/"+a.ID+"/terminal", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseNow()
	const samples = 2000
	var lat []time.Duration
	for range b.N {
		for i := range samples {
			key := []byte{byte('a' + i%26)}
			if i%200 == 199 {
				key = []byte{'\r'} // keep cat's line short
			}
			start := time.Now()
			if err := c.Write(ctx, websocket.MessageBinary, key); err != nil {
				b.Fatal(err)
			}
			for {
				_, p, err := c.Read(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if bytes.IndexByte(p, key[0]) >= 0 {
					break
				}
			}
			lat = append(lat, time.Since(start))
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
