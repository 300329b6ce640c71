package e2e

import (
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// The catalogue is bounded: registrations past catalog.max_entries get
// 429, and an endpoint outside catalog.allowed_endpoints (by default
// loopback hosts and the agent blocks' endpoints) gets 400 and is never
// health-checked.
func TestCatalogLimits(t *testing.T) {
	// A stand-in agent on loopback, counting its health checks: they show
	// when a round of checks has run.
	var checks atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		checks.Add(1)
		_, _ = w.Write([]byte(`{"healthy":true,"message":"ready"}`))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	local := "http://" + ln.Addr().String()

	h := startHost(t, writeConfigServer(t, `  health_interval = "100ms"`, "",
		"catalog {\n  max_entries = 2\n}\nagent \"from-config\" {\n  endpoint = \""+local+"\"\n}\n"))

	steps := []struct {
		name     string
		id       string
		endpoint string
		code     int
		field    string
		want     string // in the error
	}{
		// 192.0.2.0/24 is TEST-NET-1: nothing answers there, and the host
		// must not even try.
		{"an endpoint that is not loopback", "far", "http://192.0.2.1:9001", http.StatusBadRequest, "endpoint", "catalog.allowed_endpoints"},
		{"a loopback endpoint, within the cap", "near", local, http.StatusCreated, "", ""},
		{"past the cap, agent blocks counted", "one-more", local, http.StatusTooManyRequests, "", "catalog.max_entries"},
	}
	for _, s := range steps {
		var e apiError
		code := h.do("POST", "/api/agents", map[string]any{"id": s.id, "endpoint": s.endpoint}, &e)
		if code != s.code || e.Field != s.field || !strings.Contains(e.Error, s.want) {
			t.Errorf("%s: %d %+v; want %d, field %q, an error naming %q", s.name, code, e, s.code, s.field, s.want)
		}
	}

	// Checks run in rounds, each waiting for all its checks; two more
	// rounds mean any check of the refused agent has finished and been
	// logged.
	seen := checks.Load()
	eventually(t, "two more rounds of health checks", func() bool { return checks.Load() >= seen+4 })
	var list []struct {
		ID string `json:"id"`
	}
	h.do("GET", "/api/agents", nil, &list)
	var ids []string
	for _, a := range list {
		ids = append(ids, a.ID)
	}
	if got := strings.Join(ids, ","); got != "from-config,near" {
		t.Errorf("catalogue %s; want from-config,near", got)
	}
	for _, refused := range []string{`"far"`, "192.0.2.1", `"one-more"`} {
		if strings.Contains(h.logs(), refused) {
			t.Errorf("the log mentions the refused registration %s, as if it was checked:\n%s", refused, h.logs())
		}
	}
}
