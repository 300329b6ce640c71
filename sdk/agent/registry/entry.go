package registry

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// DefaultPrefix is the etcd key prefix under which agents register when
// neither side configures another one.
const DefaultPrefix = "/parallax/agents/"

// Well-known Metadata keys. Other keys are allowed and passed through.
const (
	// MetaType says what kind of agent this is, e.g. "coder" or "reviewer".
	MetaType = "type"
	// MetaExpertise is how good the agent is at its type of work, a number
	// from 0 to 1 written as a string ("0.8"), so the host can rank agents.
	MetaExpertise = "expertise"
)

// Entry is what an agent writes under its key, as JSON. The host decodes
// exactly this, so adding a field here is adding it to the format.
type Entry struct {
	// ID is the agent's unique name and the last element of its key, so it
	// cannot contain "/".
	ID string `json:"id"`
	// Name is for people; it may be empty.
	Name string `json:"name"`
	// Endpoint is where the host reaches the agent: http://, https:// or
	// grpc://host:port.
	Endpoint     string            `json:"endpoint"`
	Capabilities []string          `json:"capabilities"`
	Metadata     map[string]string `json:"metadata"`
}

// Validate reports every problem with e at once, each naming the field and
// how to fix it, so an agent author sees all of them in one run.
func (e Entry) Validate() error {
	var errs []error
	switch {
	case e.ID == "":
		errs = append(errs, errors.New(`id is empty: set a unique name such as "reviewer-1"`))
	case strings.Contains(e.ID, "/"):
		errs = append(errs, fmt.Errorf(`id %q contains "/": the id is the last element of the etcd key, use "-" instead`, e.ID))
	}
	if err := validateEndpoint(e.Endpoint); err != nil {
		errs = append(errs, err)
	}
	for i, c := range e.Capabilities {
		if strings.TrimSpace(c) == "" {
			errs = append(errs, fmt.Errorf("capabilities[%d] is empty: remove it or name the capability", i))
		}
	}
	if v, ok := e.Metadata[MetaExpertise]; ok {
		if f, err := strconv.ParseFloat(v, 64); err != nil || f < 0 || f > 1 {
			errs = append(errs, fmt.Errorf(`metadata[%q] is %q: write a number from 0 to 1, such as "0.8"`, MetaExpertise, v))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("registry: invalid entry: %w", errors.Join(errs...))
}

func validateEndpoint(endpoint string) error {
	if endpoint == "" {
		return errors.New("endpoint is empty: set the agent's address, such as http://127.0.0.1:8080 or grpc://127.0.0.1:9090")
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("endpoint %q is not a URL (%v): write it as scheme://host:port", endpoint, err)
	}
	switch u.Scheme {
	case "http", "https", "grpc":
	case "":
		return fmt.Errorf("endpoint %q has no scheme: start it with http://, https:// or grpc://", endpoint)
	default:
		return fmt.Errorf("endpoint %q has scheme %q: use http, https or grpc", endpoint, u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("endpoint %q has no host: write it as %s://host:port", endpoint, u.Scheme)
	}
	// http and https have default ports; gRPC has none, so a missing port
	// would only fail later, when the host dials.
	if u.Scheme == "grpc" && u.Port() == "" {
		return fmt.Errorf("endpoint %q has no port: write it as grpc://host:port", endpoint)
	}
	return nil
}

// Key is the etcd key of the agent id under prefix. An empty prefix means
// DefaultPrefix, and a missing trailing "/" is added, so that "/a" and "/a/"
// name the same directory and "/agents" never matches "/agentsX/...".
func Key(prefix, id string) string {
	return normalizePrefix(prefix) + id
}

func normalizePrefix(prefix string) string {
	if prefix == "" {
		return DefaultPrefix
	}
	if !strings.HasSuffix(prefix, "/") {
		return prefix + "/"
	}
	return prefix
}
