package config

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Telemetry is the telemetry {} block.
type Telemetry struct {
	// Tracing is nil, tracing off, without a tracing {} block.
	Tracing *Tracing
}

// Tracing is the telemetry { tracing {} } block: where the host exports
// its spans, over OTLP.
type Tracing struct {
	Exporter string // "otlp"
	Protocol string // "http/protobuf" or "grpc"
	// Endpoint is host:port, or a URL whose scheme says whether to use TLS
	// (and, for http/protobuf, whose path, if any, replaces /v1/traces).
	Endpoint string
	// Insecure sends to a host:port Endpoint without TLS.
	Insecure    bool
	Headers     SecretHeaders
	SampleRatio float64
	DeclRange   hcl.Range
}

// SecretHeaders are headers sent with every export. Their values are
// often tokens, so printing them shows only the names.
type SecretHeaders map[string]string

func (h SecretHeaders) String() string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k+"=<redacted>")
	}
	sort.Strings(names)
	return "map[" + strings.Join(names, " ") + "]"
}

// GoString keeps %#v from printing the values too.
func (h SecretHeaders) GoString() string { return h.String() }

// Protocols a tracing block may use, and the default endpoint of each, the
// OTLP standard ports on this machine.
var tracingProtocols = map[string]string{
	"http/protobuf": "localhost:4318",
	"grpc":          "localhost:4317",
}

var telemetrySchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{{Type: "tracing"}},
}

var tracingSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "exporter"}, {Name: "protocol"}, {Name: "endpoint"}, {Name: "insecure"}, {Name: "headers"}, {Name: "sample_ratio"},
	},
}

func (d *decoder) decodeTelemetry(blocks []*hcl.Block) Telemetry {
	var t Telemetry
	if len(blocks) == 0 {
		return t
	}
	for _, dup := range blocks[1:] {
		d.errorAt(dup.DefRange, "Duplicate telemetry block",
			fmt.Sprintf("Only one telemetry block is allowed, and one is already at line %d; merge the two.", blocks[0].DefRange.Start.Line))
	}
	content, diags := content(blocks[0].Body, telemetrySchema)
	d.report(diags...)
	for i, block := range content.Blocks {
		if i > 0 {
			d.errorAt(block.DefRange, "Duplicate tracing block",
				fmt.Sprintf("telemetry has one tracing block, and one is already at line %d; merge the two.", content.Blocks[0].DefRange.Start.Line))
			continue
		}
		t.Tracing = d.decodeTracing(block)
	}
	return t
}

func (d *decoder) decodeTracing(block *hcl.Block) *Tracing {
	tr := &Tracing{Exporter: "otlp", Protocol: "http/protobuf", SampleRatio: 1, DeclRange: block.DefRange}
	body, diags := content(block.Body, tracingSchema)
	d.report(diags...)
	const field = "telemetry.tracing."

	if attr, ok := body.Attributes["exporter"]; ok {
		if v, ok := d.string(attr, field+"exporter"); ok {
			if v != "otlp" {
				d.errorAt(attr.Expr.Range(), "Unknown exporter", fmt.Sprintf(`%sexporter is %q; the host exports "otlp", which collectors such as the OpenTelemetry Collector, Jaeger and Tempo receive.`, field, v))
			}
			tr.Exporter = v
		}
	}
	if attr, ok := body.Attributes["protocol"]; ok {
		if v, ok := d.string(attr, field+"protocol"); ok {
			if _, known := tracingProtocols[v]; !known {
				d.errorAt(attr.Expr.Range(), "Unknown protocol", fmt.Sprintf(`%sprotocol is %q; use "http/protobuf" (port 4318) or "grpc" (port 4317).`, field, v))
			} else {
				tr.Protocol = v
			}
		}
	}
	if attr, ok := body.Attributes["insecure"]; ok {
		tr.Insecure, _ = d.bool(attr, field+"insecure")
	}
	tr.Endpoint = tracingProtocols[tr.Protocol]
	if attr, ok := body.Attributes["endpoint"]; ok {
		if v, ok := d.string(attr, field+"endpoint"); ok {
			if msg := endpointProblem(v, tr.Protocol, body.Attributes["insecure"] != nil); msg != "" {
				d.errorAt(attr.Expr.Range(), "Invalid endpoint", field+"endpoint "+msg)
			}
			tr.Endpoint = v
		}
	}
	if attr, ok := body.Attributes["headers"]; ok {
		tr.Headers = d.headers(attr, field+"headers")
	}
	if attr, ok := body.Attributes["sample_ratio"]; ok {
		if v, ok := d.value(attr, cty.Number, field+"sample_ratio"); ok {
			f, _ := v.AsBigFloat().Float64()
			if f < 0 || f > 1 {
				d.errorAt(attr.Expr.Range(), "Invalid sample_ratio", fmt.Sprintf("%ssample_ratio is %g; use a fraction of the executions to trace from 0 to 1, such as 0.1, or 1 for all.", field, f))
			}
			tr.SampleRatio = f
		}
	}
	return tr
}

// endpointProblem says what is wrong with a tracing endpoint, "" if
// nothing. It quotes the endpoint: it is an address, not a secret.
func endpointProblem(v, protocol string, insecureSet bool) string {
	example := tracingProtocols[protocol]
	if !strings.Contains(v, "://") {
		if _, err := splitListen(v); err != nil || strings.HasPrefix(v, ":") {
			return fmt.Sprintf("is %q; use host:port, such as %q, or a URL such as \"https://collector.example.com:4318\".", v, example)
		}
		return ""
	}
	u, err := url.Parse(v)
	switch {
	case err != nil:
		return fmt.Sprintf("is %q, which is not a URL: %v; use host:port, such as %q, or a URL such as \"https://collector.example.com:4318\".", v, err, example)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("is %q; a URL must start with http:// (no TLS) or https://.", v)
	case u.Host == "":
		return fmt.Sprintf("is %q, which names no host; use a URL such as \"https://collector.example.com:4318\".", v)
	case u.User != nil:
		return "has credentials in the URL; put them in telemetry.tracing.headers instead, such as headers = { authorization = env(\"OTLP_TOKEN\") }."
	case protocol == "grpc" && strings.Trim(u.Path, "/") != "":
		return fmt.Sprintf("is %q; gRPC endpoints have no path, so use %q.", v, u.Scheme+"://"+u.Host)
	case insecureSet:
		return fmt.Sprintf("is the URL %q, whose scheme already says whether to use TLS; remove telemetry.tracing.insecure, or give the endpoint as host:port.", v)
	}
	return ""
}

// headers decodes the exporter's headers. Their values may be tokens:
// diagnostics name the header and point at its name, never the value.
func (d *decoder) headers(attr *hcl.Attribute, field string) SecretHeaders {
	v, ok := d.value(attr, cty.Map(cty.String), field)
	if !ok {
		return nil
	}
	out := SecretHeaders{}
	for k, s := range v.AsValueMap() {
		at := keyRange(attr, k)
		if s.IsNull() {
			d.errorAt(at, "Invalid header", fmt.Sprintf("%s[%q] is null; give it a value or remove it.", field, k))
			continue
		}
		if !headerName(k) {
			d.errorAt(at, "Invalid header name", fmt.Sprintf("%s: %q is not a header name; use letters, digits, '-', '_' or '.'.", field, k))
			continue
		}
		val := s.AsString()
		if val == "" {
			// Likely an unset env(): worth a word, not worth refusing to start.
			d.report(&hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Empty header", Subject: at.Ptr(),
				Detail: fmt.Sprintf("%s[%q] is empty, so it is not sent; if it comes from env(), set the variable.", field, k)})
			continue
		}
		if slices.ContainsFunc([]rune(val), func(c rune) bool { return c < 0x20 || c > 0x7e }) {
			d.errorAt(at, "Invalid header value", fmt.Sprintf("%s[%q] holds a control or non-ASCII character, such as a trailing newline, which headers can't carry. (The value is not shown: it may be a secret.)", field, k))
			continue
		}
		out[strings.ToLower(k)] = val
	}
	return out
}

// headerName accepts what both HTTP headers and gRPC metadata can carry.
func headerName(k string) bool {
	if k == "" || strings.HasSuffix(strings.ToLower(k), "-bin") {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// keyRange is where key is written in attr's object, or the attribute's
// name when its value isn't written out as an object.
func keyRange(attr *hcl.Attribute, key string) hcl.Range {
	if obj, ok := attr.Expr.(*hclsyntax.ObjectConsExpr); ok {
		for _, item := range obj.Items {
			if k, diags := item.KeyExpr.Value(nil); !diags.HasErrors() && k.Type() == cty.String && k.AsString() == key {
				return item.KeyExpr.Range()
			}
		}
	}
	return attr.NameRange
}
