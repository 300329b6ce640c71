package patterns

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parallax/parallax/host/internal/catalog"
	"github.com/parallax/parallax/host/internal/config"
	"github.com/parallax/parallax/host/internal/events"
	"github.com/parallax/parallax/sdk/agent/protocol"
	"github.com/parallax/parallax/sdk/runtimetest"
)

// answering is an agent on the real protocol that answers with answer(task).
type answering struct {
	answer     func(task string) string
	confidence float64
}

func (a answering) Execute(_ context.Context, t protocol.Task, _ io.Writer) (protocol.Result, error) {
	return protocol.Result{Result: []byte(a.answer(t.Description)), Confidence: a.confidence}, nil
}

func (answering) Health(context.Context) protocol.Health { return protocol.Health{Healthy: true} }

func serveAgent(t *testing.T, cat *catalog.Catalog, id string, caps []string, expertise string, h protocol.Handler) {
	t.Helper()
	srv := httptest.NewServer(protocol.HTTPHandler(h))
	t.Cleanup(srv.Close)
	if err := cat.Put(catalog.Agent{ID: id, Endpoint: srv.URL, Capabilities: caps, Metadata: map[string]string{"expertise": expertise}, Source: catalog.SourceAPI}); err != nil {
		t.Fatal(err)
	}
}

func loadPatterns(t *testing.T, src string) map[string]config.Pattern {
	t.Helper()
	dir := t.TempDir()
	plugin := filepath.Join(dir, "parallax-runtime-local")
	if err := os.WriteFile(plugin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "p.hcl")
	if err := os.WriteFile(path, []byte(`runtime "local" { plugin = "`+plugin+`" }`+"\n"+src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load(path)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return cfg.Patterns
}

func waitDone(t *testing.T, e *Engine, id string) Execution {
	t.Helper()
	var x Execution
	runtimetest.Eventually(t, 30*time.Second, "the execution to end", func() bool {
		var err error
		if x, err = e.Get(id); err != nil {
			t.Fatal(err)
		}
		return x.Status != StatusRunning
	}, nil)
	return x
}

func TestCapabilityPatterns(t *testing.T) {
	patterns := loadPatterns(t, `pattern "review" {
  agents {
    capabilities   = ["code_review"]
    min_confidence = 0.5
    count          = 3
  }
  strategy = "consensus"
  task     = "Review ${input.files}"
}
pattern "chain" {
  agents {
    capabilities = ["writing"]
    count        = 2
  }
  strategy = "sequential"
  task     = "Improve: ${input.text}"
}
pattern "too-many" {
  agents {
    capabilities = ["code_review"]
    count        = 5
  }
  task = "x"
}`)
	cat := catalog.New(nil)
	verdict := func(v string) func(string) string {
		return func(task string) string {
			if !strings.Contains(task, "auth.ts") {
				return "reject: the task lost its input: " + task
			}
			return v
		}
	}
	serveAgent(t, cat, "r1", []string{"code_review"}, "0.9", answering{verdict("APPROVE: fine"), 0.6})
	serveAgent(t, cat, "r2", []string{"code_review"}, "0.8", answering{verdict("approve, looks good"), 0.7})
	serveAgent(t, cat, "r3", []string{"code_review"}, "0.7", answering{verdict("reject: SQL injection"), 0.9})
	serveAgent(t, cat, "low", []string{"code_review"}, "0.1", answering{verdict("reject"), 1})
	serveAgent(t, cat, "w1", []string{"writing"}, "0.9", answering{func(task string) string { return "draft" }, 0.5})
	serveAgent(t, cat, "w2", []string{"writing"}, "0.8", answering{func(task string) string {
		if strings.Contains(task, "draft") {
			return "polished draft"
		}
		return "no previous result reached me"
	}, 0.8})
	bus := events.NewBus()
	sub := bus.Subscribe(16, nil)
	e := New(hclog.NewNullLogger(), patterns, cat, nil, bus)
	defer e.Shutdown()

	id, err := e.Execute("review", map[string]string{"files": "auth.ts"})
	if err != nil {
		t.Fatal(err)
	}
	x := waitDone(t, e, id)
	if x.Status != StatusCompleted || !strings.HasPrefix(strings.ToLower(x.Result), "approve") || len(x.Agents) != 3 || x.Confidence <= 0.5 {
		t.Errorf("review: %+v", x)
	}
	for _, a := range x.Agents {
		if a.AgentID == "low" {
			t.Error("an agent below min_confidence took part")
		}
	}
	if ev := <-sub.C; ev.Event != events.ExecutionStarted || ev.Data.(events.ExecutionStartedData).ExecutionID != id {
		t.Errorf("first event %+v", ev)
	}
	if ev := <-sub.C; ev.Event != events.ExecutionCompleted || ev.Data.(events.ExecutionCompletedData).ExecutionID != id {
		t.Errorf("last event %+v", ev)
	}

	id, _ = e.Execute("chain", map[string]string{"text": "hello"})
	if x := waitDone(t, e, id); x.Status != StatusCompleted || x.Result != "polished draft" {
		t.Errorf("chain: %+v", x)
	}

	id, _ = e.Execute("too-many", nil)
	if x := waitDone(t, e, id); x.Status != StatusFailed || !strings.Contains(x.Error, "4 of the 5 agents") || !strings.Contains(x.Error, "set agent_type") {
		t.Errorf("too-many: %+v", x)
	}

	var ie *InputError
	if _, err := e.Execute("review", map[string]string{"other": "x"}); !errors.As(err, &ie) || !strings.Contains(err.Error(), "files") {
		t.Errorf("missing input: %v", err)
	}
	if _, err := e.Execute("nope", nil); !errors.Is(err, ErrUnknownPattern) || !strings.Contains(err.Error(), "review") {
		t.Errorf("unknown pattern: %v", err)
	}
}
