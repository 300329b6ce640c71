package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/parallax/parallax/host/internal/catalog"
)

// Agent is an agent "<id>" {} block: an agent that runs elsewhere and
// answers the Agent protocol at Endpoint.
type Agent struct {
	ID           string
	Name         string
	Endpoint     string
	Capabilities []string
	Metadata     map[string]string
	DeclRange    hcl.Range
}

// Registry is the registry "etcd" {} block: where agents announce
// themselves.
type Registry struct {
	Endpoints   []string
	Prefix      string
	DialTimeout time.Duration
	// CAFile, CertFile and KeyFile come from a tls {} block; empty means
	// plain connections.
	CAFile, CertFile, KeyFile string
	DeclRange                 hcl.Range
}

// Catalog is the catalog {} block: what the catalogue takes from the API,
// etcd and PARALLAX_LOCAL_AGENTS. The host health-checks and calls every
// registered endpoint, so both are bounded by default.
type Catalog struct {
	// MaxEntries caps the registered agents, managed ones aside.
	MaxEntries int
	// AllowedEndpoints are host or host:port patterns (catalog.
	// EndpointPatternProblem) that registered endpoints must match; nil
	// means the default, loopback hosts. The agent blocks' endpoints are
	// allowed either way.
	AllowedEndpoints []string
	DeclRange        hcl.Range
}

// maxCatalogEntries bounds catalog.max_entries: each entry is checked
// every health_interval.
const maxCatalogEntries = 100000

var catalogSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "max_entries"}, {Name: "allowed_endpoints"}},
}

const (
	defaultRegistryPrefix = "/parallax/agents/"
	defaultDialTimeout    = 5 * time.Second
)

var agentSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "name"}, {Name: "endpoint", Required: true}, {Name: "capabilities"}, {Name: "metadata"}},
}

var registrySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "endpoints", Required: true}, {Name: "prefix"}, {Name: "dial_timeout"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "tls"}},
}

var tlsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "ca_file"}, {Name: "cert_file"}, {Name: "key_file"}},
}

func (d *decoder) decodeAgents(blocks []*hcl.Block) []Agent {
	var out []Agent
	seen := map[string]hcl.Range{}
	for _, block := range blocks {
		id := block.Labels[0]
		if prev, ok := seen[id]; ok {
			d.report(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate agent",
				Detail:  fmt.Sprintf("agent %q is already defined at line %d; ids must be unique.", id, prev.Start.Line),
				Subject: block.DefRange.Ptr()})
			continue
		}
		seen[id] = block.DefRange
		if strings.TrimSpace(id) == "" || strings.ContainsAny(id, "/ \t") {
			d.report(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid agent id",
				Detail:  fmt.Sprintf("agent %q: use letters, digits, '-', '_' or '.', without slashes or spaces.", id),
				Subject: block.LabelRanges[0].Ptr()})
			continue
		}
		a := Agent{ID: id, DeclRange: block.DefRange}
		content, diags := content(block.Body, agentSchema)
		d.report(diags...)
		field := func(name string) string { return fmt.Sprintf("agent %q %s", id, name) }
		if attr, ok := content.Attributes["name"]; ok {
			a.Name, _ = d.string(attr, field("name"))
		}
		if attr, ok := content.Attributes["endpoint"]; ok {
			if v, ok := d.string(attr, field("endpoint")); ok {
				if msg := catalog.EndpointProblem(v); msg != "" {
					d.report(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid endpoint",
						Detail: field("endpoint") + ": " + msg + ".", Subject: attr.Expr.Range().Ptr()})
				}
				a.Endpoint = v
			}
		}
		if attr, ok := content.Attributes["capabilities"]; ok {
			a.Capabilities, _ = d.strings(attr, field("capabilities"))
		}
		if attr, ok := content.Attributes["metadata"]; ok {
			if v, ok := d.value(attr, cty.Map(cty.String), field("metadata")); ok {
				a.Metadata = map[string]string{}
				for k, s := range v.AsValueMap() {
					a.Metadata[k] = s.AsString()
				}
			}
		}
		out = append(out, a)
	}
	return out
}

func (d *decoder) decodeRegistry(blocks []*hcl.Block) *Registry {
	if len(blocks) == 0 {
		return nil
	}
	for _, extra := range blocks[1:] {
		d.report(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate registry",
			Detail:  fmt.Sprintf("A registry is already defined at line %d; the host reads one.", blocks[0].DefRange.Start.Line),
			Subject: extra.DefRange.Ptr()})
	}
	block := blocks[0]
	if kind := block.Labels[0]; kind != "etcd" {
		d.report(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown registry",
			Detail:  fmt.Sprintf(`registry %q: the host knows registry "etcd".`, kind),
			Subject: block.LabelRanges[0].Ptr()})
		return nil
	}
	r := &Registry{Prefix: defaultRegistryPrefix, DialTimeout: defaultDialTimeout, DeclRange: block.DefRange}
	body, diags := content(block.Body, registrySchema)
	d.report(diags...)
	if attr, ok := body.Attributes["endpoints"]; ok {
		if v, ok := d.strings(attr, `registry "etcd" endpoints`); ok {
			if len(v) == 0 {
				d.report(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No etcd endpoints",
					Detail: `registry "etcd" endpoints is empty; list at least one, like ["127.0.0.1:2379"].`, Subject: attr.Expr.Range().Ptr()})
			}
			r.Endpoints = v
		}
	}
	if attr, ok := body.Attributes["prefix"]; ok {
		if v, ok := d.string(attr, `registry "etcd" prefix`); ok {
			if !strings.HasPrefix(v, "/") || !strings.HasSuffix(v, "/") {
				d.report(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid prefix",
					Detail: fmt.Sprintf(`registry "etcd" prefix is %q; it must start and end with "/", like "/parallax/agents/".`, v), Subject: attr.Expr.Range().Ptr()})
			}
			r.Prefix = v
		}
	}
	if attr, ok := body.Attributes["dial_timeout"]; ok {
		if v, ok := d.string(attr, `registry "etcd" dial_timeout`); ok {
			dur, err := time.ParseDuration(v)
			if err != nil || dur <= 0 {
				d.report(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid dial_timeout",
					Detail: fmt.Sprintf(`registry "etcd" dial_timeout is %q; use a duration such as "5s".`, v), Subject: attr.Expr.Range().Ptr()})
			} else {
				r.DialTimeout = dur
			}
		}
	}
	for _, tls := range body.Blocks {
		tc, diags := content(tls.Body, tlsSchema)
		d.report(diags...)
		for name, dst := range map[string]*string{"ca_file": &r.CAFile, "cert_file": &r.CertFile, "key_file": &r.KeyFile} {
			if attr, ok := tc.Attributes[name]; ok {
				if p, ok := d.path(attr, `registry "etcd" tls `+name); ok {
					*dst = p
				}
			}
		}
		if (r.CertFile == "") != (r.KeyFile == "") {
			d.report(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Incomplete client certificate",
				Detail: `registry "etcd" tls needs both cert_file and key_file, or neither.`, Subject: tls.DefRange.Ptr()})
		}
	}
	return r
}

// decodeCatalog decodes the catalog block, if any, over the defaults.
func (d *decoder) decodeCatalog(blocks []*hcl.Block) Catalog {
	c := Catalog{MaxEntries: catalog.DefaultMaxEntries}
	if len(blocks) == 0 {
		return c
	}
	for _, extra := range blocks[1:] {
		d.report(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate catalog block",
			Detail:  fmt.Sprintf("A catalog block is already at line %d; merge the two.", blocks[0].DefRange.Start.Line),
			Subject: extra.DefRange.Ptr()})
	}
	c.DeclRange = blocks[0].DefRange
	body, diags := content(blocks[0].Body, catalogSchema)
	d.report(diags...)
	if attr, ok := body.Attributes["max_entries"]; ok {
		if n, ok := d.wholeNumber(attr, "catalog.max_entries", 1, maxCatalogEntries); ok {
			c.MaxEntries = n
		}
	}
	if attr, ok := body.Attributes["allowed_endpoints"]; ok {
		if list, ok := d.strings(attr, "catalog.allowed_endpoints"); ok {
			c.AllowedEndpoints = []string{}
			for i, p := range list {
				if msg := catalog.EndpointPatternProblem(p); msg != "" {
					d.report(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid allowed endpoint",
						Detail:  fmt.Sprintf("catalog.allowed_endpoints[%d] %q %s.", i, p, msg),
						Subject: attr.Expr.Range().Ptr()})
					continue
				}
				c.AllowedEndpoints = append(c.AllowedEndpoints, p)
			}
		}
	}
	return c
}
