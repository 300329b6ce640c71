// Package catalog is the host's one list of the agents patterns can pick
// from: agents registered in etcd, listed in PARALLAX_LOCAL_AGENTS, in the
// config file or through the API, and the managed agents the host runs.
package catalog

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Source says where an agent in the catalogue came from.
type Source string

const (
	SourceEtcd    Source = "etcd"
	SourceEnv     Source = "env" // PARALLAX_LOCAL_AGENTS
	SourceConfig  Source = "config"
	SourceAPI     Source = "api"
	SourceManaged Source = "managed"
)

// Agent is one entry of the catalogue.
type Agent struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	Endpoint     string            `json:"endpoint"`
	Capabilities []string          `json:"capabilities"`
	Metadata     map[string]string `json:"metadata"`
	Source       Source            `json:"source"`
	Healthy      bool              `json:"healthy"`
	LastSeen     time.Time         `json:"lastSeen"`
}

// FieldError is a bad field of an agent, with the fix.
type FieldError struct {
	Field, Msg string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// ErrDuplicate is returned for an id another source registered.
var ErrDuplicate = errors.New("agent id already registered")

// ErrNotFound is returned for an id the catalogue doesn't hold.
var ErrNotFound = errors.New("no such agent")

// Validate checks an agent a source wants to register.
func Validate(a Agent) error {
	switch {
	case strings.TrimSpace(a.ID) == "":
		return &FieldError{"id", "is empty; give the agent a unique id"}
	case strings.ContainsAny(a.ID, "/ \t\n"):
		return &FieldError{"id", fmt.Sprintf("%q has a slash or a space; use letters, digits, '-', '_' or '.'", a.ID)}
	case a.Endpoint == "":
		return &FieldError{"endpoint", `is empty; give the URL the agent answers on, like "http://127.0.0.1:9001" or "grpc://127.0.0.1:9002"`}
	}
	if msg := EndpointProblem(a.Endpoint); msg != "" {
		return &FieldError{"endpoint", msg}
	}
	for i, c := range a.Capabilities {
		if strings.TrimSpace(c) == "" {
			return &FieldError{fmt.Sprintf("capabilities[%d]", i), "is empty; name the capability, like \"code_review\""}
		}
	}
	return nil
}

// EndpointProblem says what is wrong with an agent's endpoint, or "" if
// nothing: it must be an absolute http, https or grpc URL. The config
// file's agent blocks are checked by it too.
func EndpointProblem(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return fmt.Sprintf(`%q is not an absolute URL; write it like "http://127.0.0.1:9001" or "grpc://127.0.0.1:9002"`, endpoint)
	}
	switch u.Scheme {
	case "http", "https", "grpc":
		return ""
	}
	return fmt.Sprintf("scheme %q is not spoken; the Agent protocol is spoken over http, https or grpc", u.Scheme)
}

// Catalog holds the registered agents; managed agents come from a
// function, as the agents manager owns them.
type Catalog struct {
	managed func() []Agent

	mu     sync.Mutex
	agents map[string]Agent
	policy policy
}

// New returns an empty catalogue; managed lists the managed agents, or is
// nil.
func New(managed func() []Agent) *Catalog {
	return &Catalog{managed: managed, agents: map[string]Agent{}, policy: defaultPolicy()}
}

// Put registers a, or replaces the entry of the same id from the same
// source. An id another source holds is ErrDuplicate; an endpoint the
// limits don't allow is a *FieldError; a new id in a full catalogue is
// ErrFull.
func (c *Catalog) Put(a Agent) error {
	if err := Validate(a); err != nil {
		return err
	}
	a.Name = cmp.Or(a.Name, a.ID)
	if a.LastSeen.IsZero() {
		a.LastSeen = time.Now().UTC()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.policy.allows(a.Endpoint); err != nil {
		return err
	}
	old, ok := c.agents[a.ID]
	if ok && old.Source != a.Source {
		return fmt.Errorf("%w: %q comes from %s already", ErrDuplicate, a.ID, old.Source)
	} else if ok {
		// A re-registration keeps what health checks found.
		a.Healthy = old.Healthy
	} else {
		// Healthy until a health check says otherwise.
		a.Healthy = true
	}
	if c.isManaged(a.ID) {
		return fmt.Errorf("%w: %q is a managed agent's id", ErrDuplicate, a.ID)
	}
	// Replacing an entry adds none, so a full catalogue still takes it.
	if !ok && len(c.agents) >= c.policy.max {
		return fmt.Errorf("%w: it holds %d registered agents, its catalog.max_entries; deregister some (DELETE /api/agents/{id}) or raise catalog.max_entries in the config", ErrFull, len(c.agents))
	}
	c.agents[a.ID] = a
	return nil
}

func (c *Catalog) isManaged(id string) bool {
	if c.managed == nil {
		return false
	}
	return slices.ContainsFunc(c.managed(), func(m Agent) bool { return m.ID == id })
}

// Remove drops agent id if source registered it.
func (c *Catalog) Remove(source Source, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.agents[id]
	if !ok {
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if a.Source != source {
		return fmt.Errorf("agent %q comes from %s; remove it there", id, a.Source)
	}
	delete(c.agents, id)
	return nil
}

// Sync makes source's entries exactly agents: for a source that lists all
// it has, such as etcd after a re-list. Invalid entries are returned, not
// kept.
func (c *Catalog) Sync(source Source, agents []Agent) []error {
	keep := map[string]bool{}
	var errs []error
	for _, a := range agents {
		a.Source = source
		if err := c.Put(a); err != nil {
			errs = append(errs, fmt.Errorf("agent %q: %w", a.ID, err))
			continue
		}
		keep[a.ID] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, a := range c.agents {
		if a.Source == source && !keep[id] {
			delete(c.agents, id)
		}
	}
	return errs
}

// SetHealth records a health check of a registered agent; false if the
// catalogue doesn't hold it (any more), or nothing changed.
func (c *Catalog) SetHealth(id string, healthy bool, at time.Time) (changed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.agents[id]
	if !ok {
		return false
	}
	changed = a.Healthy != healthy
	a.Healthy = healthy
	if healthy {
		a.LastSeen = at.UTC()
	}
	c.agents[id] = a
	return changed
}

// Get returns agent id.
func (c *Catalog) Get(id string) (Agent, bool) {
	for _, a := range c.List() {
		if a.ID == id {
			return a, true
		}
	}
	return Agent{}, false
}

// List returns every agent, managed ones included, by id.
func (c *Catalog) List() []Agent {
	c.mu.Lock()
	out := make([]Agent, 0, len(c.agents))
	for _, a := range c.agents {
		a.Capabilities = slices.Clone(a.Capabilities)
		a.Metadata = maps.Clone(a.Metadata)
		out = append(out, a)
	}
	c.mu.Unlock()
	if c.managed != nil {
		out = append(out, c.managed()...)
	}
	slices.SortFunc(out, func(x, y Agent) int { return strings.Compare(x.ID, y.ID) })
	return out
}

// Registered returns the agents that are not managed: those health checks
// are for.
func (c *Catalog) Registered() []Agent {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Agent, 0, len(c.agents))
	for _, a := range c.agents {
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y Agent) int { return strings.Compare(x.ID, y.ID) })
	return out
}
