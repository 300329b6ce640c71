package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// LocalAgentsEnv names the env var with agents that run on this machine.
const LocalAgentsEnv = "PARALLAX_LOCAL_AGENTS"

// ParseLocalAgents reads PARALLAX_LOCAL_AGENTS: a JSON array of
// {id, name, endpoint, capabilities}. Errors name the index and field.
func ParseLocalAgents(s string) ([]Agent, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal([]byte(s), &items); err != nil {
		return nil, fmt.Errorf(`%s: not a JSON array of agents (%v); write it like [{"id":"a1","endpoint":"http://127.0.0.1:9001","capabilities":["testing"]}]`, LocalAgentsEnv, err)
	}
	seen := map[string]int{}
	out := make([]Agent, 0, len(items))
	for i, raw := range items {
		var item struct {
			ID           string            `json:"id"`
			Name         string            `json:"name"`
			Endpoint     string            `json:"endpoint"`
			Capabilities []string          `json:"capabilities"`
			Metadata     map[string]string `json:"metadata"`
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&item); err != nil {
			var typeErr *json.UnmarshalTypeError
			if errors.As(err, &typeErr) {
				return nil, fmt.Errorf("%s[%d].%s: want a %s, not a JSON %s", LocalAgentsEnv, i, typeErr.Field, typeErr.Type, typeErr.Value)
			}
			if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
				return nil, fmt.Errorf("%s[%d]: field %s is not known; use id, name, endpoint, capabilities, metadata", LocalAgentsEnv, i, f)
			}
			return nil, fmt.Errorf("%s[%d]: %v", LocalAgentsEnv, i, err)
		}
		a := Agent{ID: item.ID, Name: item.Name, Endpoint: item.Endpoint, Capabilities: item.Capabilities, Metadata: item.Metadata, Source: SourceEnv}
		if err := Validate(a); err != nil {
			return nil, fmt.Errorf("%s[%d].%v", LocalAgentsEnv, i, err)
		}
		if j, dup := seen[a.ID]; dup {
			return nil, fmt.Errorf("%s[%d].id: %q is also the id of [%d]; ids must be unique", LocalAgentsEnv, i, a.ID, j)
		}
		seen[a.ID] = i
		out = append(out, a)
	}
	return out, nil
}
