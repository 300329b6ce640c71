package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parallax/parallax/host/internal/agents"
)

// testHosts lets the unit tests' requests through the Host check:
// httptest.NewRequest names example.com.
var testHosts = []string{"example.com"}

// spawnRecorder is a stub that remembers whether a spawn got through.
type spawnRecorder struct {
	stubAgents
	spawned *int
}

func (s spawnRecorder) Spawn(context.Context, agents.SpawnRequest) (agents.View, error) {
	*s.spawned++
	return agents.View{ID: "a1"}, nil
}

func TestGuard_RefusesOtherSitesAndForeignHosts(t *testing.T) {
	const body = `{"type":"custom","command":["sh","-c","touch /tmp/pwned"]}`
	tests := []struct {
		name    string
		host    string
		headers map[string]string
		want    int
	}{
		{"curl -d, no content type", "127.0.0.1:3000", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, http.StatusCreated},
		{"a script with JSON", "localhost:3000", map[string]string{"Content-Type": "application/json"}, http.StatusCreated},
		{"IPv6 loopback", "[::1]:3000", nil, http.StatusCreated},
		{"a configured name", "parallax.example.com", nil, http.StatusCreated},
		{"a configured wildcard", "a.b.internal:80", nil, http.StatusCreated},
		{"the host's own page", "127.0.0.1:3000", map[string]string{"Origin": "http://127.0.0.1:3000", "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}, http.StatusCreated},
		{"a trusted origin", "127.0.0.1:3000", map[string]string{"Origin": "https://app.example.com", "Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}, http.StatusCreated},

		{"DNS rebinding", "attacker.example:3000", nil, http.StatusForbidden},
		{"rebinding a name like a configured one", "parallax.example.com.attacker.example", nil, http.StatusForbidden},
		{"no Host", "", nil, http.StatusForbidden},
		{"cross-site text/plain form", "127.0.0.1:3000", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"}, http.StatusForbidden},
		{"cross-site, Origin only (old browser)", "127.0.0.1:3000", map[string]string{"Origin": "https://evil.example", "Content-Type": "text/plain"}, http.StatusForbidden},
		{"same-site, another port", "127.0.0.1:3000", map[string]string{"Origin": "http://127.0.0.1:8080", "Sec-Fetch-Site": "same-site", "Content-Type": "application/json"}, http.StatusForbidden},
		{"an http page posing as the trusted https one", "127.0.0.1:3000", map[string]string{"Origin": "http://app.example.com", "Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}, http.StatusForbidden},
		{"same-origin page, form body", "127.0.0.1:3000", map[string]string{"Origin": "http://127.0.0.1:3000", "Sec-Fetch-Site": "same-origin", "Content-Type": "text/plain"}, http.StatusUnsupportedMediaType},
	}
	for _, tt := range tests {
		for _, token := range []string{"", "tok"} {
			t.Run(tt.name+"/token="+token, func(t *testing.T) {
				spawned := 0
				h := Handler(Options{Agents: spawnRecorder{spawned: &spawned}, Runtimes: stubRuntimes{}, Token: token,
					Hosts: []string{"parallax.example.com", "*.internal"}, AllowedOrigins: []string{"https://app.example.com"}})
				req := httptest.NewRequest("POST", "/api/managed-agents", strings.NewReader(body))
				req.Host = tt.host
				for k, v := range tt.headers {
					req.Header.Set(k, v)
				}
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != tt.want {
					t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
				}
				if got := spawned > 0; got != (tt.want == http.StatusCreated) {
					t.Fatalf("spawned = %t with status %d", got, rec.Code)
				}
				if tt.want == http.StatusForbidden && !strings.Contains(rec.Body.String(), "server {") {
					t.Errorf("the error names no setting: %s", rec.Body)
				}
			})
		}
	}
}

func TestGuard_WebSocketOrigin(t *testing.T) {
	g := newGuard(nil, []string{"https://app.example.com"})
	tests := []struct {
		name, host, origin, fetchSite string
		want                          bool
	}{
		{"no browser", "127.0.0.1:3000", "", "", true},
		{"the host's own page", "127.0.0.1:3000", "http://127.0.0.1:3000", "same-origin", true},
		{"a trusted origin", "127.0.0.1:3000", "https://app.example.com", "cross-site", true},
		{"another site", "127.0.0.1:3000", "https://evil.example", "cross-site", false},
		{"another port", "127.0.0.1:3000", "http://127.0.0.1:3001", "same-site", false},
		{"another scheme", "127.0.0.1:3000", "https://127.0.0.1:3000", "same-site", false},
		{"the trusted site over http", "127.0.0.1:3000", "http://app.example.com", "cross-site", false},
		{"a browser that hides the Origin", "127.0.0.1:3000", "", "cross-site", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/ws/events", nil)
			r.Host = tt.host
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if tt.fetchSite != "" {
				r.Header.Set("Sec-Fetch-Site", tt.fetchSite)
			}
			if got := g.originAllowed(r); got != tt.want {
				t.Errorf("originAllowed = %t, want %t", got, tt.want)
			}
		})
	}
}
