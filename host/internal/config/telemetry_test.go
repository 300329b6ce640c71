package config

import (
	"fmt"
	"maps"
	"strings"
	"testing"
)

func TestLoadTracing(t *testing.T) {
	const local = "runtime \"local\" {}\n"
	tests := []struct {
		name string
		src  string
		want *Tracing // nil: tracing off
	}{
		{"no telemetry block", "", nil},
		{"telemetry without tracing", "telemetry {}\n", nil},
		{"defaults", "telemetry {\n  tracing {}\n}\n",
			&Tracing{Exporter: "otlp", Protocol: "http/protobuf", Endpoint: "localhost:4318", SampleRatio: 1}},
		{"grpc's default port", "telemetry {\n  tracing {\n    protocol = \"grpc\"\n  }\n}\n",
			&Tracing{Exporter: "otlp", Protocol: "grpc", Endpoint: "localhost:4317", SampleRatio: 1}},
		{"everything", `telemetry {
  tracing {
    exporter     = "otlp"
    endpoint     = "127.0.0.1:4318"
    protocol     = "http/protobuf"
    insecure     = true
    headers      = { Authorization = "Bearer t0ken", "x-scope-orgid" = "team" }
    sample_ratio = 0.25
  }
}
`, &Tracing{Exporter: "otlp", Protocol: "http/protobuf", Endpoint: "127.0.0.1:4318", Insecure: true, SampleRatio: 0.25,
			Headers: SecretHeaders{"authorization": "Bearer t0ken", "x-scope-orgid": "team"}}},
		{"a URL endpoint", "telemetry {\n  tracing {\n    endpoint = \"https://otel.example.com/custom/traces\"\n  }\n}\n",
			&Tracing{Exporter: "otlp", Protocol: "http/protobuf", Endpoint: "https://otel.example.com/custom/traces", SampleRatio: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustLoad(t, writeConfig(t, local+tt.src, "local")).Telemetry.Tracing
			if (got == nil) != (tt.want == nil) {
				t.Fatalf("Tracing = %+v, want %+v", got, tt.want)
			}
			if got == nil {
				return
			}
			got.DeclRange = tt.want.DeclRange
			if got.Exporter != tt.want.Exporter || got.Protocol != tt.want.Protocol || got.Endpoint != tt.want.Endpoint ||
				got.Insecure != tt.want.Insecure || got.SampleRatio != tt.want.SampleRatio || !maps.Equal(got.Headers, tt.want.Headers) {
				t.Errorf("Tracing = %+v %v, want %+v %v", got, map[string]string(got.Headers), tt.want, map[string]string(tt.want.Headers))
			}
		})
	}
}

func TestTracingErrors(t *testing.T) {
	tracing := func(body string) string {
		return "runtime \"local\" {}\ntelemetry {\n  tracing {\n" + body + "  }\n}\n"
	}
	tests := []struct {
		name, src, summary, detail, pos string
	}{
		{"unknown exporter", tracing("    exporter = \"zipkin\"\n"), "Unknown exporter", `telemetry.tracing.exporter is "zipkin"; the host exports "otlp"`, "4:16"},
		{"unknown protocol", tracing("    protocol = \"http/json\"\n"), "Unknown protocol", `use "http/protobuf" (port 4318) or "grpc"`, "4:16"},
		{"endpoint without a port", tracing("    endpoint = \"collector\"\n"), "Invalid endpoint", "telemetry.tracing.endpoint is \"collector\"; use host:port", "4:16"},
		{"endpoint of another scheme", tracing("    endpoint = \"ftp://c:21\"\n"), "Invalid endpoint", "must start with http:// (no TLS) or https://", "4:16"},
		{"URL endpoint and insecure", tracing("    endpoint = \"http://c:4318\"\n    insecure = true\n"), "Invalid endpoint", "remove telemetry.tracing.insecure", "4:16"},
		{"gRPC endpoint with a path", tracing("    protocol = \"grpc\"\n    endpoint = \"https://c:4317/v1/traces\"\n"), "Invalid endpoint", `use "https://c:4317"`, "5:16"},
		{"credentials in the endpoint", tracing("    endpoint = \"https://user:pw@c:4318\"\n"), "Invalid endpoint", "put them in telemetry.tracing.headers", "4:16"},
		{"sample_ratio above 1", tracing("    sample_ratio = 1.5\n"), "Invalid sample_ratio", "from 0 to 1", "4:20"},
		{"sample_ratio not a number", tracing("    sample_ratio = \"all\"\n"), "Invalid value for sample_ratio", "telemetry.tracing.sample_ratio must be a number", "4:20"},
		{"insecure not a bool", tracing("    insecure = \"yes\"\n"), "Invalid value for insecure", "telemetry.tracing.insecure must be a bool", "4:16"},
		{"headers not a map", tracing("    headers = [\"a\"]\n"), "Invalid value for headers", "telemetry.tracing.headers must be a map of string", "4:15"},
		{"bad header name", tracing("    headers = {\n      \"x token\" = \"v\"\n    }\n"), "Invalid header name", `"x token" is not a header name`, "5:7"},
		{"empty header", tracing("    headers = { authorization = env(\"PARALLAX_SURELY_UNSET\") }\n"), "Empty header", "so it is not sent", "4:17"},
		{"unknown argument", tracing("    url = \"x\"\n"), "Unsupported argument", "exporter, protocol, endpoint, insecure, headers, sample_ratio", "4:5"},
		{"two tracing blocks", "runtime \"local\" {}\ntelemetry {\n  tracing {}\n  tracing {}\n}\n", "Duplicate tracing block", "line 3", "4:3"},
		{"two telemetry blocks", "runtime \"local\" {}\ntelemetry {}\ntelemetry {}\n", "Duplicate telemetry block", "line 2", "3:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Load(writeConfig(t, tt.src, "local"))
			wantDiagnostic(t, diags, tt.summary, tt.detail, tt.pos)
		})
	}
}

// Header values are often tokens: no diagnostic, printed form or
// formatting of the config shows them.
func TestTracingHeaderValuesStaySecret(t *testing.T) {
	const secret = "s3cret-t0ken-4711"
	t.Setenv("PARALLAX_TEST_OTLP_TOKEN", "Bearer "+secret+"\n")
	t.Setenv("PARALLAX_TEST_OTLP_GOOD", "Bearer "+secret)
	path := writeConfig(t, `runtime "local" {}
telemetry {
  tracing {
    headers = {
      authorization = env("PARALLAX_TEST_OTLP_TOKEN")
      "bad name"    = env("PARALLAX_TEST_OTLP_GOOD")
    }
  }
}
`, "local")
	cfg, diags := Load(path)
	if cfg != nil || !diags.HasErrors() {
		t.Fatal("a header value with a newline was accepted")
	}
	var out strings.Builder
	if err := WriteDiagnostics(&out, nil, diags); err != nil {
		t.Fatal(err)
	}
	printed := out.String() + diags.Error()
	for _, d := range diags {
		printed += d.Summary + d.Detail
	}
	if strings.Contains(printed, secret) {
		t.Errorf("the diagnostics show the header's value:\n%s", printed)
	}
	if !strings.Contains(printed, `["authorization"]`) || !strings.Contains(printed, `"bad name"`) || !strings.Contains(printed, "5:7") {
		t.Errorf("the diagnostics don't say which header:\n%s", printed)
	}

	cfg = mustLoad(t, writeConfig(t, "runtime \"local\" {}\ntelemetry {\n  tracing {\n    headers = { authorization = env(\"PARALLAX_TEST_OTLP_GOOD\") }\n  }\n}\n", "local"))
	if cfg.Telemetry.Tracing.Headers["authorization"] != "Bearer "+secret {
		t.Fatalf("headers = %v", map[string]string(cfg.Telemetry.Tracing.Headers))
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(verb, cfg.Telemetry.Tracing); strings.Contains(s, secret) || !strings.Contains(s, "authorization") {
			t.Errorf("%s of the tracing config: %s", verb, s)
		}
	}
}
