package api

import (
	"errors"
	"net/http"
	"slices"

	"github.com/parallax/parallax/host/internal/catalog"
)

// registration is the body of POST /api/agents.
type registration struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	Endpoint     string            `json:"endpoint"`
	Capabilities []string          `json:"capabilities"`
	Metadata     map[string]string `json:"metadata"`
}

func (s *server) registerAgent(w http.ResponseWriter, r *http.Request) {
	var req registration
	if err := decodeJSON(r, &req); err != nil {
		writeBodyError(w, err)
		return
	}
	a := catalog.Agent{ID: req.ID, Name: req.Name, Endpoint: req.Endpoint, Capabilities: req.Capabilities, Metadata: req.Metadata, Source: catalog.SourceAPI}
	err := s.opts.Catalog.Put(a)
	var fe *catalog.FieldError
	switch {
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, fe.Field, err.Error())
		return
	case errors.Is(err, catalog.ErrDuplicate):
		writeError(w, http.StatusConflict, "id", err.Error())
		return
	case errors.Is(err, catalog.ErrFull):
		writeError(w, http.StatusTooManyRequests, "", err.Error())
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, "", err.Error())
		return
	}
	got, _ := s.opts.Catalog.Get(a.ID)
	writeJSON(w, http.StatusCreated, got)
}

func (s *server) listAgents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	out := []catalog.Agent{}
	for _, a := range s.opts.Catalog.List() {
		if match(q.Get("source"), string(a.Source)) &&
			(q.Get("capability") == "" || slices.Contains(a.Capabilities, q.Get("capability"))) {
			out = append(out, a)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) deregisterAgent(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a, ok := s.opts.Catalog.Get(id)
	if !ok {
		writeError(w, http.StatusNotFound, "", "no agent "+id+" in the catalogue; GET /api/agents lists them")
		return
	}
	if a.Source != catalog.SourceAPI {
		msg := "agent " + id + " comes from " + string(a.Source) + ", not the API; remove it there"
		if a.Source == catalog.SourceManaged {
			msg = "agent " + id + " is managed; stop it with DELETE /api/managed-agents/" + id
		}
		writeError(w, http.StatusConflict, "", msg)
		return
	}
	if err := s.opts.Catalog.Remove(catalog.SourceAPI, id); err != nil {
		writeError(w, http.StatusNotFound, "", err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
