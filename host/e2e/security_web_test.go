package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// crossSiteSpawn is the attack: a page of another site posts a spawn
// request as a "simple" request, which a browser sends without asking
// the server first.
func crossSiteSpawn(t *testing.T, h *host, marker string) *http.Request {
	body := fmt.Sprintf(`{"type":"custom","command":["sh","-c","touch %s; sleep 300"]}`, marker)
	req, err := http.NewRequest("POST", h.url+"/api/managed-agents", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Sec-Fetch-Mode", "no-cors")
	return req
}

func TestSecurity_CrossSiteRequestsSpawnNothing(t *testing.T) {
	for _, withToken := range []bool{false, true} {
		t.Run(fmt.Sprintf("token=%t", withToken), func(t *testing.T) {
			const token = "e2e-token-cross-site"
			server := ""
			var env []string
			if withToken {
				server, env = `  token = env("PARALLAX_TEST_TOKEN")`, []string{"PARALLAX_TEST_TOKEN=" + token}
			}
			h := startHost(t, writeConfigServer(t, server, "", ""), env...)
			if withToken {
				// The browser sends the user's token no more than a
				// page could: assume the worst, that it has it.
				h.token = token
			}
			marker := filepath.Join(t.TempDir(), "pwned")

			attacks := map[string]func(*http.Request){
				"text/plain POST":                 func(*http.Request) {},
				"no Sec-Fetch-Site (old browser)": func(r *http.Request) { r.Header.Del("Sec-Fetch-Site") },
				"same-site page on another port": func(r *http.Request) {
					r.Header.Set("Origin", "http://127.0.0.1:1")
					r.Header.Set("Sec-Fetch-Site", "same-site")
				},
				"JSON content type, cross-site": func(r *http.Request) { r.Header.Set("Content-Type", "application/json") },
				"form-encoded, cross-site":      func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") },
				"rebinding: a forged Host, no CSF": func(r *http.Request) {
					r.Host = "attacker.example:3000"
					r.Header.Del("Sec-Fetch-Site")
					r.Header.Del("Origin")
				},
			}
			for name, mutate := range attacks {
				req := crossSiteSpawn(t, h, marker)
				mutate(req)
				code, body := h.rawRequest(req)
				if code != http.StatusForbidden {
					t.Errorf("%s: status %d, want 403: %s", name, code, body)
				}
			}

			var list []agent
			if code := h.do("GET", "/api/managed-agents", nil, &list); code != http.StatusOK || len(list) != 0 {
				t.Fatalf("agents after the attacks: status %d, %d agents, want none", code, len(list))
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("an attack's command ran: its marker file exists")
			}

			// The control: the same request from a client that is not a
			// browser goes through, as with curl -d and no content type.
			req := crossSiteSpawn(t, h, marker)
			req.Header.Del("Origin")
			req.Header.Del("Sec-Fetch-Site")
			req.Header.Del("Sec-Fetch-Mode")
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if code, body := h.rawRequest(req); code != http.StatusCreated {
				t.Fatalf("the same spawn from curl: status %d, want 201: %s", code, body)
			}
			eventually(t, "the control agent's marker", func() bool { _, err := os.Stat(marker); return err == nil })
		})
	}
}

func TestSecurity_ForgedHostIsRefusedEverywhere(t *testing.T) {
	h := startHost(t, writeConfigServer(t, `  hosts = ["parallax.test"]`, "", ""))
	a := h.spawnShell("target", nil)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(h.url, "http://"))

	tests := []struct {
		host string
		want int
	}{
		{"attacker.example:" + port, http.StatusForbidden},
		{"attacker.example", http.StatusForbidden},
		{"parallax.test.attacker.example:" + port, http.StatusForbidden},
		{"localhost:" + port, http.StatusOK},
		{"127.0.0.1:" + port, http.StatusOK},
		{"parallax.test:" + port, http.StatusOK},
	}
	for _, tt := range tests {
		for _, path := range []string{"/api/managed-agents", "/api/health", "/api/openapi.json", "/metrics", "/api/managed-agents/" + a.ID + "/logs"} {
			req, _ := http.NewRequest("GET", h.url+path, nil)
			req.Host = tt.host
			if code, body := h.rawRequest(req); code != tt.want {
				t.Errorf("GET %s with Host %q: status %d, want %d: %.200s", path, tt.host, code, tt.want, body)
			} else if code == http.StatusForbidden && !strings.Contains(body, "server { hosts") {
				t.Errorf("the refusal doesn't name the setting: %s", body)
			}
		}
	}

	// On the WebSockets, an Origin that equals the forged Host is what a
	// rebinding page sends.
	for _, path := range []string{"/ws/events", "/ws/agents/" + a.ID + "/terminal"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		forged := "attacker.example:" + port
		c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(h.url, "http")+path,
			&websocket.DialOptions{Host: forged, HTTPHeader: http.Header{"Origin": {"http://" + forged}}})
		cancel()
		if c != nil {
			c.CloseNow()
			t.Errorf("%s: a rebinding page opened the WebSocket", path)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %v, want 403", path, err)
		}
	}
}

func TestSecurity_IdleConnectionsAreClosed(t *testing.T) {
	const token = "e2e-token-idle"
	h := startHost(t, writeConfigServer(t, `  token = env("PARALLAX_TEST_TOKEN")
  idle_timeout = "500ms"`, "", ""), "PARALLAX_TEST_TOKEN="+token)
	addr := strings.TrimPrefix(h.url, "http://")

	// Half get 401, half are served: neither may keep its connection.
	const n = 20
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		auth := ""
		if i%2 == 0 {
			auth = "Authorization: Bearer " + token + "\r\n"
		}
		fmt.Fprintf(c, "GET /api/health HTTP/1.1\r\nHost: %s\r\n%s\r\n", addr, auth)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Close {
			t.Fatalf("connection %d: the server closed it at once; this test wants keep-alive", i)
		}
		conns[i] = c
	}
	// The server closes each: a read ends with EOF rather than blocking.
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("connection %d: read gave %v, want EOF from the server closing it", i, err)
		}
	}
}

func TestSecurity_LimitsGive429(t *testing.T) {
	h := startHost(t, writeConfigServer(t, `  max_agents = 2
  max_watchers_per_agent = 1
  max_event_subscribers = 1`, "", ""))
	a := h.spawnShell("one", nil)
	h.spawnShell("two", nil)

	var e apiError
	if code := h.do("POST", "/api/managed-agents", map[string]any{"type": "custom", "command": []string{"sh"}}, &e); code != http.StatusTooManyRequests || e.Field != "server.max_agents" {
		t.Errorf("third spawn: status %d, %+v; want 429 naming server.max_agents", code, e)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, path := range []string{"/ws/agents/" + a.ID + "/terminal", "/ws/events"} {
		first, _, err := h.dialWS(ctx, path, nil)
		if err != nil {
			t.Fatalf("%s: the first client: %v", path, err)
		}
		_, resp, err := h.dialWS(ctx, path, nil)
		if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("%s: the second client: %v, want 429", path, err)
		} else if b, _ := io.ReadAll(resp.Body); !strings.Contains(string(b), "server.max_") {
			t.Errorf("%s: the 429 names no limit: %s", path, b)
		}
		// Once the first goes, its place is free again.
		first.CloseNow()
		eventually(t, "a free place on "+path, func() bool {
			c, _, err := h.dialWS(ctx, path, nil)
			if err == nil {
				c.CloseNow()
			}
			return err == nil
		})
	}

	// A deleted agent frees its place.
	if code := h.do("DELETE", "/api/managed-agents/"+a.ID+"?force=true", nil, nil); code != http.StatusOK {
		t.Fatalf("delete: %d", code)
	}
	h.spawnShell("three", nil)
}

func TestSecurity_SharedHostNarrowsCommandsAndEnv(t *testing.T) {
	h := startHost(t, writeConfigServer(t, `  allow_commands = false
  env_allowlist = ["GIT_*"]`, "", ""))
	tests := []struct {
		name  string
		req   map[string]any
		field string
	}{
		{"custom", map[string]any{"type": "custom", "command": []string{"sh"}}, "type"},
		{"a command override", map[string]any{"type": "claude", "command": []string{"sh"}}, "command"},
		{"LD_PRELOAD", map[string]any{"type": "claude", "env": map[string]string{"GIT_AUTHOR_NAME": "x", "LD_PRELOAD": "/tmp/x.so"}}, "env"},
	}
	for _, tt := range tests {
		var e apiError
		if code := h.do("POST", "/api/managed-agents", tt.req, &e); code != http.StatusForbidden || e.Field != tt.field {
			t.Errorf("%s: status %d, %+v; want 403 naming %s", tt.name, code, e, tt.field)
		} else if !strings.Contains(e.Error, "server") {
			t.Errorf("%s: the error names no setting: %s", tt.name, e.Error)
		}
	}
	var list []agent
	if h.do("GET", "/api/managed-agents", nil, &list); len(list) != 0 {
		t.Errorf("refused spawns left %d agents", len(list))
	}
}
