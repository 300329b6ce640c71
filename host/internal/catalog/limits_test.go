package catalog

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestEndpointPatternProblem(t *testing.T) {
	tests := []struct {
		pattern string
		want    string // in the problem; "" means valid
	}{
		{"agents.example.com", ""},
		{"*.example.com", ""},
		{"10.0.0.5:9001", ""},
		{"127.0.0.1:90*", ""},
		{"Agents.Example.COM:*", ""},
		{"[::1]", ""},
		{"[::1]:9001", ""},
		{"", "is empty"},
		{"http://agents.example.com", "has a scheme"},
		{"agents.example.com/health", "not a host pattern"},
		{"user@host", "not a host pattern"},
		{"::1", "in brackets"},
		{"[::1", `without "]"`},
		{"[::1]9001", `not ":port"`},
		{"host:", "without a port"},
		{"[::1]:", "without a port"},
		{":9001", "has no host"},
		{"ag[ents", "not a valid pattern"},
		{"host:[9", "not a valid pattern"},
	}
	for _, tt := range tests {
		got := EndpointPatternProblem(tt.pattern)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("EndpointPatternProblem(%q) = %q; want %q", tt.pattern, got, tt.want)
		}
	}
}

func TestAllowedEndpoints(t *testing.T) {
	trusted := []string{"http://agents.internal:9001", "https://secure.internal"}
	tests := []struct {
		name     string
		allowed  []string // nil: the default
		endpoint string
		ok       bool
	}{
		{"default: 127.0.0.1", nil, "http://127.0.0.1:9001", true},
		{"default: all of 127/8", nil, "grpc://127.1.2.3:9002", true},
		{"default: localhost", nil, "http://LOCALHOST:1", true},
		{"default: ::1", nil, "http://[::1]:9001", true},
		{"default: another host", nil, "http://10.0.0.5:9001", false},
		{"default: a name that merely starts like loopback", nil, "http://127.0.0.1.nip.io:9001", false},
		{"default: a loopback user part hides nothing", nil, "http://127.0.0.1:80@10.0.0.5/", false},
		{"default: an agent block's endpoint", nil, "grpc://agents.internal:9001", true},
		{"default: an agent block's host on another port", nil, "http://agents.internal:9002", false},
		{"default: an agent block's default port", nil, "https://secure.internal:443", true},
		{"explicit list replaces loopback", []string{"*.example.com"}, "http://127.0.0.1:9001", false},
		{"explicit list keeps the agent blocks", []string{"*.example.com"}, "http://agents.internal:9001", true},
		{"host pattern, any port", []string{"*.example.com"}, "http://a.b.example.com:7", true},
		{"host pattern, case", []string{"*.example.com"}, "http://A.Example.Com:7", true},
		{"host:port pattern", []string{"10.0.0.5:9001"}, "http://10.0.0.5:9001", true},
		{"host:port pattern, other port", []string{"10.0.0.5:9001"}, "http://10.0.0.5:9002", false},
		{"port from the scheme", []string{"api.example.com:443"}, "https://api.example.com", true},
		{"port pattern", []string{"10.0.0.5:90*"}, "grpc://10.0.0.5:9077", true},
		{"ipv6 pattern", []string{"[fd00::1]:9001"}, "http://[fd00::1]:9001", true},
		{"empty list allows only the agent blocks", []string{}, "http://127.0.0.1:9001", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(nil)
			if err := c.SetLimits(Limits{AllowedEndpoints: tt.allowed, Trusted: trusted}); err != nil {
				t.Fatal(err)
			}
			err := c.Put(Agent{ID: "a", Endpoint: tt.endpoint, Source: SourceAPI})
			if tt.ok {
				if err != nil {
					t.Errorf("Put(%s) = %v; want it allowed", tt.endpoint, err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "endpoint" || !strings.Contains(err.Error(), "catalog.allowed_endpoints") {
				t.Errorf("Put(%s) = %v; want an endpoint error naming catalog.allowed_endpoints", tt.endpoint, err)
			}
			if _, held := c.Get("a"); held {
				t.Errorf("the refused agent is in the catalogue")
			}
		})
	}
}

func TestSetLimitsRefusesBadLimits(t *testing.T) {
	tests := []struct {
		limits Limits
		want   string
	}{
		{Limits{MaxEntries: -1}, "catalog.max_entries"},
		{Limits{AllowedEndpoints: []string{"ok.example.com", "http://x"}}, "catalog.allowed_endpoints[1]"},
	}
	for _, tt := range tests {
		if err := New(nil).SetLimits(tt.limits); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("SetLimits(%+v) = %v; want an error naming %s", tt.limits, err, tt.want)
		}
	}
}

func TestMaxEntries(t *testing.T) {
	managed := []Agent{{ID: "m1", Source: SourceManaged}}
	c := New(func() []Agent { return managed })
	if c.MaxEntries() != DefaultMaxEntries {
		t.Errorf("default cap %d, want %d", c.MaxEntries(), DefaultMaxEntries)
	}
	if err := c.SetLimits(Limits{MaxEntries: 3}); err != nil {
		t.Fatal(err)
	}
	put := func(id string, src Source) error {
		return c.Put(Agent{ID: id, Endpoint: "http://127.0.0.1:9001", Source: src})
	}
	for i, src := range []Source{SourceConfig, SourceEtcd, SourceAPI} {
		if err := put(fmt.Sprintf("a%d", i), src); err != nil {
			t.Fatalf("entry %d of 3: %v", i, err)
		}
	}
	steps := []struct {
		name string
		id   string
		src  Source
		want error // nil: taken
	}{
		{"a new id past the cap", "new", SourceAPI, ErrFull},
		{"from etcd too", "new", SourceEtcd, ErrFull},
		{"replacing an entry adds none", "a2", SourceAPI, nil},
		{"another source's id is still a duplicate", "a1", SourceAPI, ErrDuplicate},
	}
	for _, s := range steps {
		err := put(s.id, s.src)
		if s.want == nil && err != nil || s.want != nil && !errors.Is(err, s.want) {
			t.Errorf("%s: Put = %v; want %v", s.name, err, s.want)
		}
		if errors.Is(err, ErrFull) && !strings.Contains(err.Error(), "catalog.max_entries") {
			t.Errorf("%s: %q does not name catalog.max_entries", s.name, err)
		}
	}
	// Managed agents don't count: m1 is listed, and the cap is on the rest.
	if n := len(c.List()); n != 4 {
		t.Errorf("List holds %d agents, want 3 registered and 1 managed", n)
	}
	if err := c.Remove(SourceAPI, "a2"); err != nil {
		t.Fatal(err)
	}
	if err := put("new", SourceAPI); err != nil {
		t.Errorf("after a removal: %v", err)
	}
}
