package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The test here drives Debian's real chromium, headless, against a running
// host, from attacker pages on other origins, and checks that no page
// reaches the API: no agent spawns, no WebSocket opens. It needs chromium,
// which test/browser/setup.sh (run by make test) installs; without it the
// test skips loudly, and fails under CI=true, where chromium must be there.

// rebindName is a name chromium resolves to 127.0.0.1 (--host-resolver-rules),
// as an attacker's DNS would after rebinding it.
const rebindName = "attacker.test"

// needChromium returns the path of chromium, or skips (fails under CI).
func needChromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		msg := "\n\n*** NO CHROMIUM FOR THE BROWSER END-TO-END TEST ***\n" + err.Error() +
			"\nRun `sh test/browser/setup.sh` (make test does).\n"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "CI=true: a missing chromium is a failure here, not a skip.")
		}
		t.Skip(msg)
	}
	return path
}

// TestBrowserCannotReachAPI serves attacker pages to a real chromium and
// has them try what a page from another site can do against the host on
// 127.0.0.1: a text/plain form POST and no-cors fetch forming a spawn
// request (no CORS pre-flight), a pre-flighted JSON fetch, WebSockets to
// /ws/events and to a terminal, all of it again through a name that
// resolves to the host, and a real DNS rebinding, where the attacker's own
// origin comes to reach the host, so that only the Host header tells.
// Every spawn would touch a marker file. None may exist afterwards, the
// host may list no agent but the test's own, and no WebSocket may open.
// The same spawn sent by the test itself, as curl would, must work.
//
// With a token the pages are even given it: the browser checks must hold
// by themselves, not only because the page lacks the token.
func TestBrowserCannotReachAPI(t *testing.T) {
	chromium := needChromium(t)
	for _, tc := range []struct{ name, token string }{
		{"no token", ""},
		{"token", "browser-test-token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serverBody := ""
			if tc.token != "" {
				serverBody = fmt.Sprintf("  token = %q", tc.token)
			}
			h := startHost(t, writeConfigServer(t, serverBody, "", ""))
			h.token = tc.token
			testBrowserAttacks(t, h, chromium)
		})
	}
}

func testBrowserAttacks(t *testing.T, h *host, chromium string) {
	markerDir, err := os.MkdirTemp("", "parallax-browser-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(markerDir) })
	hostAddr := strings.TrimPrefix(h.url, "http://")
	_, hostPort, _ := net.SplitHostPort(hostAddr)

	// The test's own agent, whose terminal the pages try to open.
	var own agent
	if code := postJSON(h, "/api/managed-agents", `{"type":"custom","name":"own","command":["sleep","300"]}`, &own); code != http.StatusCreated {
		t.Fatalf("spawning the test's own agent: status %d; log:\n%s", code, h.logs())
	}

	cfg := map[string]string{
		"markerDir": markerDir,
		"agentID":   own.ID,
		"token":     h.token,
		"target":    h.url,
		"rebind":    "http://" + net.JoinHostPort(rebindName, hostPort),
	}

	// Page A: another origin, 127.0.0.1 on another port.
	crossSite := httptest.NewServer(attackerHandler(t, crossOriginPage, cfg, nil))
	defer crossSite.Close()

	// Page B: http://attacker.test:<port>/, whose server hands its
	// connections to the host once the page has loaded, as rebinding the
	// name to 127.0.0.1 would.
	rb := newRebinder(t, hostAddr)
	rb.serve(attackerHandler(t, reboundPage, cfg, rb))
	_, rbPort, _ := net.SplitHostPort(rb.ln.Addr().String())

	var chromeOut syncBuffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // chromium won't start sandboxed as root
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 1400),
		// attacker.test is the host's address; every other name fails,
		// so the browser sends nothing off this machine.
		chromedp.Flag("host-resolver-rules", "MAP "+rebindName+" 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.CombinedOutput(&chromeOut),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()

	results := map[string]map[string]any{}
	for _, page := range []struct{ name, url string }{
		{"cross-origin", crossSite.URL + "/"},
		{"rebound", "http://" + net.JoinHostPort(rebindName, rbPort) + "/"},
	} {
		err := chromedp.Do(ctx,
			chromedp.Navigate(page.url),
			chromedp.WaitVisible(chromedp.ID("done")),
		)
		if err != nil {
			t.Fatalf("page %s (%s): %v; chromium:\n%s", page.name, page.url, err, chromeOut.tail())
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.results)`))
		if err != nil {
			t.Fatalf("page %s: reading window.results: %v", page.name, err)
		}
		var r map[string]map[string]any
		if err := json.Unmarshal([]byte(got), &r); err != nil {
			t.Fatalf("page %s: window.results %q: %v", page.name, got, err)
		}
		t.Logf("page %s (%s): %s", page.name, page.url, got)
		for k, v := range r {
			results[page.name+"/"+k] = v
		}
		if dir := os.Getenv("PARALLAX_BROWSER_SCREENSHOTS"); dir != "" {
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("screenshot: %v", err)
			}
			name := filepath.Join(dir, fmt.Sprintf("parallax-browser-%s-%s.png", strings.ReplaceAll(t.Name(), "/", "-"), page.name))
			if err := os.WriteFile(strings.ReplaceAll(name, " ", "_"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Each attempt must have run, and have reached the host: the no-cors
	// fetches got a response (an opaque one), the rebound page read the
	// host's answers (same-origin, so readable), and its WebSockets went
	// through to the host's port (a WebSocket always opens a connection of
	// its own; fetches may share one, so only these are counted).
	for _, name := range []string{
		"cross-origin/form", "cross-origin/no-cors", "cross-origin/cors-json",
		"cross-origin/ws-events", "cross-origin/ws-terminal",
		"cross-origin/rebind-name-form", "cross-origin/rebind-name-no-cors", "cross-origin/rebind-name-ws-events",
		"rebound/rebind", "rebound/json", "rebound/form", "rebound/list", "rebound/ws-events", "rebound/ws-terminal",
	} {
		r, ok := results[name]
		if !ok || r["state"] != "done" {
			t.Errorf("%s: did not run: %v", name, r)
		}
	}
	for _, name := range []string{"cross-origin/no-cors", "cross-origin/rebind-name-no-cors"} {
		if r := results[name]; r["error"] != nil || r["type"] != "opaque" {
			t.Errorf("%s: the request did not reach the host (so the test can't tell it was refused): %v", name, r)
		}
	}
	if r := results["rebound/rebind"]; r["status"] != float64(200) {
		t.Errorf("rebound page: /rebind on the attacker's server: %v", r)
	}
	for _, name := range []string{"rebound/json", "rebound/list"} {
		if r := results[name]; r["error"] != nil || r["type"] != "basic" {
			t.Errorf("%s: the request did not reach the host (so the test can't tell it was refused): %v", name, r)
		}
	}
	if r := results["rebound/form"]; r["body"] == nil || strings.Contains(fmt.Sprint(r["body"]), "the attacker's server") {
		t.Errorf("rebound/form: the form's response was not the host's: %v", r)
	}
	forwarded := rb.forwardedRequests()
	for _, want := range []string{"GET /ws/events", "GET /ws/agents/" + own.ID + "/terminal"} {
		if !slices.ContainsFunc(forwarded, func(l string) bool { return strings.HasPrefix(l, want) }) {
			t.Errorf("the rebound page's %q never reached the host; connections forwarded: %q", want, forwarded)
		}
	}

	// Nothing a page did got through.
	for name, r := range results {
		if r["opened"] == true || r["messages"] != nil && r["messages"] != float64(0) {
			t.Errorf("%s: the page's WebSocket opened: %v", name, r)
		}
		if status, ok := r["status"].(float64); ok && name != "rebound/rebind" {
			if status >= 200 && status < 300 {
				t.Errorf("%s: the host answered the page %v: %v", name, status, r)
			}
			if status == http.StatusTeapot {
				t.Errorf("%s: the attacker's own server answered, not the host: %v", name, r)
			}
		}
	}

	// The positive control: the same spawn, sent as curl sends it, works,
	// and its marker appears. By then any spawn a page got through would
	// have touched its own.
	control := filepath.Join(markerDir, "marker-control")
	var ctl agent
	body := fmt.Sprintf(`{"type":"custom","name":"control","command":["sh","-c","touch %s"]}`, control)
	if code := postJSON(h, "/api/managed-agents", body, &ctl); code != http.StatusCreated {
		t.Fatalf("the test's own spawn (no Origin, application/json): status %d, want 201; log:\n%s", code, h.logs())
	}
	eventually(t, "the control agent's marker "+control, func() bool {
		_, err := os.Stat(control)
		return err == nil
	})

	markers, _ := filepath.Glob(filepath.Join(markerDir, "marker-*"))
	for _, m := range markers {
		if m != control {
			t.Errorf("a page's spawn ran: %s exists", m)
		}
	}
	var list []struct {
		agent
		Command []string `json:"command"`
	}
	if code := h.do("GET", "/api/managed-agents", nil, &list); code != http.StatusOK {
		t.Fatalf("GET /api/managed-agents: %d", code)
	}
	for _, a := range list {
		if a.ID != own.ID && a.ID != ctl.ID {
			t.Errorf("a page spawned agent %s (name %q, command %q, status %s)", a.ID, a.Name, a.Command, a.Status)
		}
	}
	if t.Failed() {
		t.Logf("host log:\n%s", h.logs())
	}
}

// postJSON sends body as application/json, with the host's token, as curl
// or a program would, and decodes the response into out.
func postJSON(h *host, path, body string, out any) int {
	h.t.Helper()
	req, err := http.NewRequest("POST", h.url+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 == 2 && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatalf("POST %s: status %d, body %q: %v", path, resp.StatusCode, b, err)
		}
	} else if resp.StatusCode/100 != 2 {
		h.t.Logf("POST %s: status %d, body %s", path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// attackerHandler serves an attacker page at / with cfg in it, and, for
// the rebinding page, /rebind, which rebinds rb. Anything else gets 418,
// which tells a request that reached the attacker from one that reached
// the host.
func attackerHandler(t *testing.T, page *template.Template, cfg map[string]string, rb *rebinder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			if err := page.Execute(w, map[string]any{"Cfg": cfg}); err != nil {
				t.Errorf("attacker page: %v", err)
			}
		case r.URL.Path == "/rebind" && rb != nil:
			rb.rebound.Store(true)
			io.WriteString(w, "rebound")
		default:
			http.Error(w, "the attacker's server", http.StatusTeapot)
		}
	})
}

// rebinder is an attacker's server whose name comes to point at the host:
// until rebound it serves the attacker's pages, afterwards it forwards every
// new connection to the host, as if the browser had resolved its name again
// and got the host's address. It serves one request per connection, so the
// browser opens a new one for each, and decides where a connection goes by
// its first request, so a connection the browser opened ahead goes to the
// host too.
type rebinder struct {
	t       *testing.T
	ln      net.Listener
	host    string
	rebound atomic.Bool
	conns   chan net.Conn
	done    chan struct{}

	mu        sync.Mutex
	forwarded []string // the first request line of each connection to the host
}

func newRebinder(t *testing.T, host string) *rebinder {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &rebinder{t: t, ln: ln, host: host, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (rb *rebinder) serve(h http.Handler) {
	srv := &http.Server{Handler: h}
	srv.SetKeepAlivesEnabled(false)
	go srv.Serve((*rebinderListener)(rb))
	go func() {
		for {
			c, err := rb.ln.Accept()
			if err != nil {
				return
			}
			go rb.route(c)
		}
	}()
	rb.t.Cleanup(func() {
		rb.ln.Close()
		close(rb.done)
		srv.Close()
	})
}

func (rb *rebinder) route(c net.Conn) {
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	if _, err := br.Peek(1); err != nil {
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	pc := &peekedConn{Conn: c, r: br}
	if !rb.rebound.Load() {
		select {
		case rb.conns <- pc:
		case <-rb.done:
			c.Close()
		}
		return
	}
	line, _ := br.Peek(br.Buffered())
	if i := bytes.Index(line, []byte("\r\n")); i >= 0 {
		line = line[:i]
	}
	rb.mu.Lock()
	rb.forwarded = append(rb.forwarded, string(line))
	rb.mu.Unlock()
	up, err := net.Dial("tcp", rb.host)
	if err != nil {
		c.Close()
		return
	}
	go func() {
		io.Copy(up, pc)
		up.(*net.TCPConn).CloseWrite()
	}()
	io.Copy(c, up)
	c.Close()
	up.Close()
}

func (rb *rebinder) forwardedRequests() []string {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	return slices.Clone(rb.forwarded)
}

// rebinderListener hands the connections not forwarded to an http.Server.
type rebinderListener rebinder

func (l *rebinderListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}
func (l *rebinderListener) Close() error   { return nil }
func (l *rebinderListener) Addr() net.Addr { return l.ln.Addr() }

// peekedConn is a connection whose first bytes were read ahead.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// syncBuffer is a bytes.Buffer safe for a writer goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// tail is the end of the output, without chromium's complaints about
// D-Bus, which a container lacks.
func (s *syncBuffer) tail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lines []string
	for l := range strings.Lines(s.b.String()) {
		if !strings.Contains(l, "dbus") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines[max(0, len(lines)-40):], "")
}

// attackJS runs attempts and records each in window.results[name]: state
// "done" once it finished (or timed out), with what the page could see.
// When all are done it adds the element #done.
const attackJS = `
window.results = {};
let pending = 1; // until all attempts have started
const auth = cfg.token ? {'Authorization': 'Bearer ' + cfg.token} : {};
const tokenQuery = cfg.token ? '?token=' + encodeURIComponent(cfg.token) : '';
function show() {
  document.getElementById('log').textContent = JSON.stringify(window.results, null, 1);
}
function start(name) {
  pending++;
  const r = window.results[name] = {state: 'pending'};
  setTimeout(() => finish(name, {timedOut: true}), 10000);
  show();
  return r;
}
function finish(name, fields) {
  const r = window.results[name];
  if (r.state !== 'pending') return;
  Object.assign(r, fields);
  r.state = 'done';
  show();
  if (--pending === 0) allDone();
}
function allDone() {
  const d = document.createElement('div');
  d.id = 'done';
  d.textContent = 'done';
  document.body.appendChild(d);
}
function marker(name) { return cfg.markerDir + '/marker-' + cfg.page + '-' + name; }
function agentName(name) { return 'attack-' + cfg.page + '-' + name; }
function spawnBody(name) {
  return JSON.stringify({type: 'custom', name: agentName(name), command: ['sh', '-c', 'touch ' + marker(name)]});
}
// form POSTs a text/plain form whose body is a spawn request: the classic
// trick, the "=" between name and value hidden in the shell command.
function form(name, url) {
  start(name);
  const sink = document.createElement('iframe');
  sink.name = 'sink-' + name;
  sink.title = name;
  document.body.appendChild(sink);
  const f = document.createElement('form');
  f.method = 'POST';
  f.action = url;
  f.enctype = 'text/plain';
  f.target = sink.name;
  const input = document.createElement('input');
  input.type = 'hidden';
  input.name = '{"type":"custom","name":"' + agentName(name) + '","command":["sh","-c","touch ' + marker(name) + '; : ';
  input.value = ' "]}';
  f.appendChild(input);
  document.body.appendChild(f);
  sink.addEventListener('load', () => {
    let body;
    try {
      if (sink.contentWindow.location.href === 'about:blank') return;
      body = sink.contentDocument.body.innerText.slice(0, 300);
    } catch (e) {
      body = '(not readable: ' + e.name + ')';
    }
    finish(name, {loaded: true, body: body});
  });
  f.submit();
}
async function send(name, url, opts) {
  start(name);
  try {
    const resp = await fetch(url, opts);
    const body = resp.type === 'opaque' ? null : (await resp.text()).slice(0, 300);
    finish(name, {type: resp.type, status: resp.status, body: body});
  } catch (e) {
    finish(name, {error: String(e)});
  }
}
function noCors(name, url) {
  return send(name, url, {method: 'POST', mode: 'no-cors', headers: {'Content-Type': 'text/plain'}, body: spawnBody(name)});
}
function jsonPost(name, url) {
  return send(name, url, {method: 'POST', headers: Object.assign({'Content-Type': 'application/json'}, auth), body: spawnBody(name)});
}
function ws(name, url) {
  const r = start(name);
  r.url = url;
  r.opened = false;
  r.messages = 0;
  let s;
  try {
    s = new WebSocket(url);
  } catch (e) {
    finish(name, {error: String(e)});
    return;
  }
  s.onopen = () => { r.opened = true; show(); setTimeout(() => s.close(), 300); };
  s.onmessage = () => { r.messages++; };
  s.onerror = () => { r.errored = true; };
  s.onclose = (ev) => finish(name, {closeCode: ev.code});
}
function wsURL(base) { return base.replace(/^http/, 'ws'); }
`

var pageHead = `<!doctype html>
<html><head><meta charset="utf-8"><title>attacker</title>
<style>iframe { width: 460px; height: 70px; display: block; } pre { font-size: 11px; white-space: pre-wrap; word-break: break-all; }</style>
</head><body>
<h1>an attacker's page</h1>
<p>origin: <span id="origin"></span></p>
<pre id="log"></pre>
<script>
const cfg = {{.Cfg}};
document.getElementById('origin').textContent = location.origin;
` + attackJS

// crossOriginPage attacks the host from http://127.0.0.1:<another port>,
// directly and through the rebinding name.
var crossOriginPage = template.Must(template.New("a").Parse(pageHead + `
cfg.page = 'cross-origin';
form('form', cfg.target + '/api/managed-agents');
noCors('no-cors', cfg.target + '/api/managed-agents');
jsonPost('cors-json', cfg.target + '/api/managed-agents');
ws('ws-events', wsURL(cfg.target) + '/ws/events' + tokenQuery);
ws('ws-terminal', wsURL(cfg.target) + '/ws/agents/' + cfg.agentID + '/terminal' + tokenQuery);
form('rebind-name-form', cfg.rebind + '/api/managed-agents');
noCors('rebind-name-no-cors', cfg.rebind + '/api/managed-agents');
ws('rebind-name-ws-events', wsURL(cfg.rebind) + '/ws/events' + tokenQuery);
finish0();
function finish0() { if (--pending === 0) allDone(); }
</script></body></html>`))

// reboundPage is served from http://attacker.test:<port>; once /rebind
// answered, the same origin reaches the host, so every request below is
// same-origin and only the Host header gives it away.
var reboundPage = template.Must(template.New("b").Parse(pageHead + `
cfg.page = 'rebound';
(async () => {
  await send('rebind', '/rebind', {});
  jsonPost('json', '/api/managed-agents');
  form('form', '/api/managed-agents');
  send('list', '/api/managed-agents', {headers: auth});
  ws('ws-events', wsURL(location.origin) + '/ws/events' + tokenQuery);
  ws('ws-terminal', wsURL(location.origin) + '/ws/agents/' + cfg.agentID + '/terminal' + tokenQuery);
  if (--pending === 0) allDone();
})();
</script></body></html>`))
