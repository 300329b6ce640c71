package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/parallax/parallax/host/internal/patterns"
)

// patternView is a pattern as GET /api/patterns shows it.
type patternView struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"` // capability or org-chart
	Strategy string `json:"strategy"`
	Timeout  int64  `json:"timeout"` // seconds
	Agents   *struct {
		Capabilities  []string `json:"capabilities"`
		MinConfidence float64  `json:"minConfidence"`
		Count         int      `json:"count"`
	} `json:"agents,omitempty"`
	Roles []roleView `json:"roles,omitempty"`
	Steps []stepView `json:"steps,omitempty"`
}

type roleView struct {
	Name         string   `json:"name"`
	AgentType    string   `json:"agentType,omitempty"`
	Managed      bool     `json:"managed"`
	Capabilities []string `json:"capabilities"`
	Count        int      `json:"count"`
	ReportsTo    string   `json:"reportsTo,omitempty"`
}

type stepView struct {
	Name     string   `json:"name"`
	Role     string   `json:"role"`
	Strategy string   `json:"strategy"`
	Retries  int      `json:"retries"`
	After    []string `json:"after"`
}

func (s *server) listPatterns(w http.ResponseWriter, r *http.Request) {
	out := []patternView{}
	for _, p := range s.opts.Patterns {
		v := patternView{Name: p.Name, Kind: "org-chart", Strategy: p.Strategy, Timeout: int64(p.Timeout.Seconds())}
		if p.Agents != nil {
			v.Kind = "capability"
			v.Agents = &struct {
				Capabilities  []string `json:"capabilities"`
				MinConfidence float64  `json:"minConfidence"`
				Count         int      `json:"count"`
			}{nonNil(p.Agents.Capabilities), p.Agents.MinConfidence, p.Agents.Count}
		}
		for _, role := range p.Roles {
			v.Roles = append(v.Roles, roleView{role.Name, role.AgentType, role.Managed, nonNil(role.Capabilities), role.Count, role.ReportsTo})
		}
		for _, st := range p.Steps {
			v.Steps = append(v.Steps, stepView{st.Name, st.Role, st.Strategy, st.Retries, nonNil(st.After)})
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b patternView) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, out)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Executions runs patterns; see patterns.Engine.
type Executions interface {
	Execute(name string, input map[string]string) (string, error)
	Get(id string) (patterns.Execution, error)
}

func (s *server) executePattern(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Input map[string]string `json:"input"`
	}
	if err := decodeJSON(r, &req); err != nil {
		writeBodyError(w, err)
		return
	}
	id, err := s.opts.Executions.Execute(r.PathValue("name"), req.Input)
	var ie *patterns.InputError
	switch {
	case errors.Is(err, patterns.ErrUnknownPattern):
		writeError(w, http.StatusNotFound, "", err.Error())
	case errors.As(err, &ie):
		writeError(w, http.StatusBadRequest, "input", err.Error())
	case err != nil:
		writeError(w, http.StatusInternalServerError, "", err.Error())
	default:
		writeJSON(w, http.StatusAccepted, map[string]string{"executionId": id})
	}
}

func (s *server) getExecution(w http.ResponseWriter, r *http.Request) {
	x, err := s.opts.Executions.Get(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusNotFound, "", err.Error()+"; POST /api/patterns/{name}/execute starts one")
		return
	}
	writeJSON(w, http.StatusOK, x)
}

// noPatterns is the Executions of a host without patterns.
type noPatterns struct{}

func (noPatterns) Execute(name string, _ map[string]string) (string, error) {
	return "", fmt.Errorf("%w %q; the config defines no patterns", patterns.ErrUnknownPattern, name)
}

func (noPatterns) Get(id string) (patterns.Execution, error) {
	return patterns.Execution{}, fmt.Errorf("%w %q", patterns.ErrNotFound, id)
}
