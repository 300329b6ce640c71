package catalog

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"strings"
)

// DefaultMaxEntries is how many registered agents the catalogue holds when
// the config doesn't say.
const DefaultMaxEntries = 1000

// ErrFull is returned for a new agent when the catalogue holds
// catalog.max_entries registered agents already.
var ErrFull = errors.New("the catalogue is full")

// Limits bound what the catalogue takes. The host health-checks and calls
// every registered agent's endpoint, so without them anyone who can
// register could fill its memory or point its checks at any address.
type Limits struct {
	// MaxEntries caps the registered agents, from every source; managed
	// agents don't count. 0 means DefaultMaxEntries.
	MaxEntries int
	// AllowedEndpoints are host or host:port patterns (see
	// EndpointPatternProblem) that endpoints must match; nil means the
	// default, loopback hosts only.
	AllowedEndpoints []string
	// Trusted endpoints are allowed whatever AllowedEndpoints says, by
	// host and port: the config file's agent blocks.
	Trusted []string
}

// policy is Limits parsed.
type policy struct {
	max      int
	patterns []hostPattern // nil: the default
	trusted  []hostPort
}

type hostPort struct{ host, port string }

func (hp hostPort) String() string {
	if hp.port == "" && strings.Contains(hp.host, ":") {
		return "[" + hp.host + "]"
	}
	if hp.port == "" {
		return hp.host
	}
	return net.JoinHostPort(hp.host, hp.port)
}

// hostPattern is one parsed allowed_endpoints entry; port "" matches any.
type hostPattern struct{ host, port string }

func (p hostPattern) match(hp hostPort) bool {
	if ok, _ := path.Match(p.host, hp.host); !ok {
		return false
	}
	if p.port == "" {
		return true
	}
	ok, _ := path.Match(p.port, hp.port)
	return ok
}

func defaultPolicy() policy { return policy{max: DefaultMaxEntries} }

func newPolicy(l Limits) (policy, error) {
	p := policy{max: l.MaxEntries}
	if p.max == 0 {
		p.max = DefaultMaxEntries
	}
	if p.max < 0 {
		return policy{}, fmt.Errorf("catalog.max_entries is %d; use a whole number from 1", l.MaxEntries)
	}
	if l.AllowedEndpoints != nil {
		p.patterns = []hostPattern{}
	}
	for i, s := range l.AllowedEndpoints {
		hp, err := parseHostPattern(s)
		if err != nil {
			return policy{}, fmt.Errorf("catalog.allowed_endpoints[%d] %q: %v", i, s, err)
		}
		p.patterns = append(p.patterns, hp)
	}
	for _, e := range l.Trusted {
		if hp, ok := endpointHost(e); ok {
			p.trusted = append(p.trusted, hp)
		}
	}
	return p, nil
}

// EndpointPatternProblem says what is wrong with an allowed_endpoints
// pattern, or "" if nothing. A pattern is a host or host:port, each part in
// path.Match syntax: "agents.example.com", "*.example.com",
// "10.0.0.5:9001", "127.0.0.1:90*" or "[::1]:9001". A pattern without a
// port matches every port of its hosts. Hosts compare case-insensitively.
func EndpointPatternProblem(s string) string {
	if _, err := parseHostPattern(s); err != nil {
		return err.Error()
	}
	return ""
}

func parseHostPattern(s string) (hostPattern, error) {
	const like = `write a host or host:port such as "agents.example.com", "*.example.com" or "10.0.0.5:9001"`
	switch {
	case s == "":
		return hostPattern{}, errors.New("is empty; " + like)
	case strings.Contains(s, "://"):
		return hostPattern{}, errors.New("has a scheme; " + like + ", which allows every scheme")
	case strings.ContainsAny(s, "/?#@ \t"):
		return hostPattern{}, errors.New("is not a host pattern; " + like)
	}
	host, port := strings.ToLower(s), ""
	if rest, ok := strings.CutPrefix(host, "["); ok {
		h, after, ok := strings.Cut(rest, "]")
		if !ok {
			return hostPattern{}, errors.New(`has "[" without "]"; write an IPv6 address as "[::1]" or "[::1]:9001"`)
		}
		host = h
		if after != "" {
			p, ok := strings.CutPrefix(after, ":")
			if !ok {
				return hostPattern{}, errors.New(`has text after "]" that is not ":port"`)
			}
			port = p
			if port == "" {
				return hostPattern{}, errors.New(`ends in ":" without a port; give one, or "*" for any`)
			}
		}
	} else if strings.Count(host, ":") > 1 {
		return hostPattern{}, errors.New(`has several ":"; write an IPv6 address in brackets, as "[::1]" or "[::1]:9001"`)
	} else if h, p, ok := strings.Cut(host, ":"); ok {
		host, port = h, p
		if port == "" {
			return hostPattern{}, errors.New(`ends in ":" without a port; give one, or "*" for any`)
		}
	}
	if host == "" {
		return hostPattern{}, errors.New("has no host; " + like)
	}
	for _, part := range []string{host, port} {
		if _, err := path.Match(part, ""); err != nil {
			return hostPattern{}, fmt.Errorf("is not a valid pattern (%v); %s", err, like)
		}
	}
	return hostPattern{host: host, port: port}, nil
}

// endpointHost returns an endpoint's host, lower case, and port, the
// scheme's default when it has none.
func endpointHost(endpoint string) (hostPort, bool) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return hostPort{}, false
	}
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return hostPort{strings.ToLower(u.Hostname()), port}, true
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// allows says whether endpoint may be registered, or why not.
func (p policy) allows(endpoint string) error {
	hp, ok := endpointHost(endpoint)
	if !ok {
		return &FieldError{"endpoint", EndpointProblem(endpoint)}
	}
	for _, t := range p.trusted {
		if t == hp {
			return nil
		}
	}
	if p.patterns == nil {
		if isLoopback(hp.host) {
			return nil
		}
		return &FieldError{"endpoint", fmt.Sprintf("%q points at %s, which is not allowed: without catalog.allowed_endpoints only loopback hosts and the agent blocks' endpoints are; add a pattern such as %q to catalog.allowed_endpoints in the config",
			endpoint, hp, hp.String())}
	}
	for _, pat := range p.patterns {
		if pat.match(hp) {
			return nil
		}
	}
	return &FieldError{"endpoint", fmt.Sprintf("%q points at %s, which matches none of catalog.allowed_endpoints; add a pattern such as %q to it in the config",
		endpoint, hp, hp.String())}
}

// SetLimits replaces the catalogue's limits. Agents it holds already stay.
func (c *Catalog) SetLimits(l Limits) error {
	p, err := newPolicy(l)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.policy = p
	c.mu.Unlock()
	return nil
}

// MaxEntries returns the cap on registered agents.
func (c *Catalog) MaxEntries() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.policy.max
}
