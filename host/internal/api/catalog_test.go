package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parallax/parallax/host/internal/catalog"
)

func TestCatalogRoutes(t *testing.T) {
	cat := catalog.New(func() []catalog.Agent { return []catalog.Agent{{ID: "m1", Source: catalog.SourceManaged}} })
	if err := cat.Put(catalog.Agent{ID: "e1", Endpoint: "grpc://127.0.0.1:9", Source: catalog.SourceEtcd}); err != nil {
		t.Fatal(err)
	}
	h := Handler(Options{Hosts: testHosts, Agents: stubAgents{}, Runtimes: stubRuntimes{}, Catalog: cat})
	steps := []struct {
		method, path, body string
		code               int
		want               string // in the body
	}{
		{"POST", "/api/agents", `{"id":"a1","endpoint":"http://127.0.0.1:9001","capabilities":["testing"]}`, 201, `"source":"api"`},
		{"POST", "/api/agents", `{"id":"a2"}`, 400, `"field":"endpoint"`},
		{"POST", "/api/agents", `{"id":"a2","endpoint":"localhost:9001"}`, 400, `"field":"endpoint"`},
		{"POST", "/api/agents", `{"endpoint":"http://127.0.0.1:1"}`, 400, `"field":"id"`},
		{"POST", "/api/agents", `{"id":"e1","endpoint":"http://127.0.0.1:1"}`, 409, "etcd"},
		{"POST", "/api/agents", `{"id":"m1","endpoint":"http://127.0.0.1:1"}`, 409, "managed"},
		{"POST", "/api/agents", `{"id":"a3","endpoint":"http://127.0.0.1:1","port":1}`, 400, `"field":"port"`},
		{"GET", "/api/agents?capability=testing", "", 200, `"id":"a1"`},
		{"GET", "/api/agents?source=managed", "", 200, `[{"id":"m1"`},
		{"DELETE", "/api/agents/e1", "", 409, "comes from etcd"},
		{"DELETE", "/api/agents/m1", "", 409, "DELETE /api/managed-agents/m1"},
		{"DELETE", "/api/agents/nope", "", 404, "GET /api/agents"},
		{"DELETE", "/api/agents/a1", "", 204, ""},
	}
	for _, s := range steps {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(s.method, s.path, strings.NewReader(s.body)))
		var body bytes.Buffer
		if json.Compact(&body, w.Body.Bytes()) != nil {
			body = *w.Body
		}
		if w.Code != s.code || !strings.Contains(body.String(), s.want) {
			t.Errorf("%s %s %s: %d %s; want %d with %q", s.method, s.path, s.body, w.Code, w.Body, s.code, s.want)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/api/agents", nil))
	var list []catalog.Agent
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || w.Code != http.StatusOK || len(list) != 2 {
		t.Errorf("catalogue after the steps: %d %s; want e1 and m1", w.Code, w.Body)
	}
}

// The catalogue's limits reach REST callers as errors that name the
// setting to change: 429 past catalog.max_entries, 400 on endpoint for an
// endpoint outside catalog.allowed_endpoints.
func TestCatalogLimitsOverREST(t *testing.T) {
	cat := catalog.New(nil)
	if err := cat.SetLimits(catalog.Limits{MaxEntries: 2, Trusted: []string{"http://agents.internal:9001"}}); err != nil {
		t.Fatal(err)
	}
	h := Handler(Options{Agents: stubAgents{}, Runtimes: stubRuntimes{}, Catalog: cat})
	steps := []struct {
		name, body string
		code       int
		field      string
		want       string // in the error
	}{
		{"not loopback", `{"id":"far","endpoint":"http://10.0.0.5:9001"}`, 400, "endpoint", "catalog.allowed_endpoints"},
		{"a name that is no loopback", `{"id":"far","endpoint":"grpc://localhost.example.com:9001"}`, 400, "endpoint", "catalog.allowed_endpoints"},
		{"loopback", `{"id":"a1","endpoint":"http://127.0.0.1:9001"}`, 201, "", ""},
		{"an agent block's endpoint", `{"id":"a2","endpoint":"grpc://agents.internal:9001"}`, 201, "", ""},
		{"past the cap", `{"id":"a3","endpoint":"http://127.0.0.1:9003"}`, 429, "", "catalog.max_entries"},
		{"re-registering when full", `{"id":"a1","endpoint":"http://127.0.0.1:9004"}`, 201, "", ""},
	}
	for _, s := range steps {
		w := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/api/agents", strings.NewReader(s.body))
		req.Host = "127.0.0.1" // the host's guard refuses other names
		h.ServeHTTP(w, req)
		var e errorBody
		_ = json.Unmarshal(w.Body.Bytes(), &e)
		if w.Code != s.code || e.Field != s.field || !strings.Contains(e.Error, s.want) {
			t.Errorf("%s: %d %s; want %d, field %q, error with %q", s.name, w.Code, w.Body, s.code, s.field, s.want)
		}
	}
	if _, ok := cat.Get("far"); ok {
		t.Error("a refused registration is in the catalogue")
	}
}
