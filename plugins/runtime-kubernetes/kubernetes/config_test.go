package kubernetes

import (
	"strings"
	"testing"
)

func testConfig(t *testing.T, raw string) Config {
	t.Helper()
	cfg, err := decodeConfig([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Namespace = "agents"
	return cfg
}

func TestDecodeConfig(t *testing.T) {
	tests := []struct {
		raw, want string
	}{
		{`{"namespace": 3}`, `"namespace"`},
		{`{"nmespace": "x"}`, `"nmespace": not known`},
		{`{"namespace": "Not_Valid"}`, `"namespace"`},
		{`{"image_pull_policy": "Sometimes"}`, `"image_pull_policy"`},
		{`{"default_cpu": "lots"}`, `"default_cpu"`},
		{`{"default_memory": "2 gigs"}`, `"default_memory"`},
		{`{"labels": {"parallax.x": "y"}}`, `"labels"`},
		{`{"tolerations": [{"operator": "Maybe"}]}`, `"tolerations"[0]`},
		{`{"tolerations": [{"key": "a"}, {"kye": "b"}]}`, `"tolerations"[1]: "kye" is not known`},
		{`{"start_timeout": "soon"}`, `start_timeout`},
		{`{"scrollback_bytes": 5}`, `"scrollback_bytes"`},
		{`{"in_cluster": true, "kubeconfig": "/x"}`, `"in_cluster"`},
	}
	for _, tt := range tests {
		_, err := decodeConfig([]byte(tt.raw))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("decodeConfig(%s) = %v; want an error naming %s", tt.raw, err, tt.want)
		}
	}
	cfg, err := decodeConfig([]byte(`{"images": {"custom": "me/custom:1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.imageFor("", "claude") != "parallax/agent-claude:latest" || cfg.imageFor("", "custom") != "me/custom:1" || cfg.imageFor("", "other") != "parallax/agent-base:latest" {
		t.Errorf("images %v, default %q", cfg.Images, cfg.DefaultImage)
	}
}
