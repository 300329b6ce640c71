package config

import (
	"slices"
	"testing"

	"github.com/parallax/parallax/host/internal/catalog"
)

func TestLoadCatalog(t *testing.T) {
	const local = "runtime \"local\" {}\n"
	tests := []struct {
		name    string
		src     string
		max     int
		allowed []string // nil: the default
	}{
		{"no block: the defaults", local, catalog.DefaultMaxEntries, nil},
		{"both set", local + "catalog {\n  max_entries = 20\n  allowed_endpoints = [\"*.example.com\", \"10.0.0.5:9001\", \"[::1]\"]\n}\n",
			20, []string{"*.example.com", "10.0.0.5:9001", "[::1]"}},
		{"an empty list is not the default", local + "catalog {\n  allowed_endpoints = []\n}\n", catalog.DefaultMaxEntries, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := Load(writeConfig(t, tt.src, "local"))
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			c := cfg.Catalog
			if c.MaxEntries != tt.max || (c.AllowedEndpoints == nil) != (tt.allowed == nil) || !slices.Equal(c.AllowedEndpoints, tt.allowed) {
				t.Errorf("catalog = %+v; want max %d, allowed %#v", c, tt.max, tt.allowed)
			}
		})
	}
}

func TestLoadCatalogErrors(t *testing.T) {
	const local = "runtime \"local\" {}\n"
	tests := []struct {
		name, src, summary string
		details            []string
	}{
		{"max_entries of 0", local + "catalog {\n  max_entries = 0\n}\n", "Invalid max_entries",
			[]string{"catalog.max_entries", "from 1 to 100000"}},
		{"max_entries not whole", local + "catalog {\n  max_entries = 2.5\n}\n", "Invalid max_entries",
			[]string{"catalog.max_entries"}},
		{"a pattern with a scheme", local + "catalog {\n  allowed_endpoints = [\"localhost\", \"http://agents.example.com\"]\n}\n", "Invalid allowed endpoint",
			[]string{"catalog.allowed_endpoints[1]", "has a scheme", "agents.example.com"}},
		{"a bad pattern", local + "catalog {\n  allowed_endpoints = [\"ag[ents\"]\n}\n", "Invalid allowed endpoint",
			[]string{"catalog.allowed_endpoints[0]", "not a valid pattern"}},
		{"an unbracketed IPv6 address", local + "catalog {\n  allowed_endpoints = [\"::1\"]\n}\n", "Invalid allowed endpoint",
			[]string{"in brackets"}},
		{"not a list", local + "catalog {\n  allowed_endpoints = \"localhost\"\n}\n", "Invalid value for allowed_endpoints",
			[]string{"catalog.allowed_endpoints"}},
		{"two blocks", local + "catalog {}\ncatalog {}\n", "Duplicate catalog block", []string{"line 2"}},
		{"a misspelt attribute", local + "catalog {\n  max_entry = 3\n}\n", "Unsupported argument", []string{"max_entries"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := Load(writeConfig(t, tt.src, "local"))
			if cfg != nil {
				t.Fatalf("Load accepted it: %+v", cfg.Catalog)
			}
			onlyError(t, diags, tt.summary, tt.details)
		})
	}
}
