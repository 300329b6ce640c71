package docker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/parallax/parallax/sdk/runtime"
)

// Config is the runtime's config {} block, decoded.
type Config struct {
	// Host is the engine's address; empty means $DOCKER_HOST, else the
	// default socket.
	Host string
	// Network is the network mode of every container.
	Network string
	// Images maps an agent type to its image; DefaultImage is for the rest.
	Images       map[string]string
	DefaultImage string
	PullPolicy   string
	// DefaultCPU and DefaultMemory apply to agents that ask for no limit.
	DefaultCPU    string
	DefaultMemory string
	// PidsLimit caps the processes of one agent; 0 means no cap.
	PidsLimit int64
	// User runs the agent's command; empty means the image's user.
	User string
	// Labels are added to every container.
	Labels map[string]string
	// WorkdirRoots are the directories whose subdirectories may be mounted
	// as an agent's workdir.
	WorkdirRoots       []string
	DefaultStopTimeout time.Duration
	ScrollbackBytes    int
}

const (
	pullNever     = "never"
	pullIfMissing = "if-missing"
	pullAlways    = "always"

	minScrollback = 1 << 10
	maxScrollback = 1 << 30
)

var configSchema = []runtime.ConfigAttr{
	{
		Name: "host", Type: "string",
		Description: `The Docker engine's address, like "unix:///var/run/docker.sock" or "tcp://10.0.0.5:2376". ` +
			`Default: $DOCKER_HOST, else the local socket.`,
	},
	{
		Name: "network", Type: "string",
		Description: `Network mode of agent containers: "none", "bridge", "host" or a network's name. ` +
			`Default "none": agents reach nothing, not even their model's API, until you choose otherwise.`,
	},
	{
		Name: "images", Type: "map(string)",
		Description: `Image per agent type, like { claude = "parallax/agent-claude:latest" }. ` +
			`Default: parallax/agent-<type>:latest for claude, codex, gemini and aider (built by make images).`,
	},
	{
		Name: "default_image", Type: "string",
		Description: `Image for agent types not in images, such as custom. Default "parallax/agent-base:latest".`,
	},
	{
		Name: "pull_policy", Type: "string",
		Description: `When to pull an image: "never", "if-missing" or "always". Default "if-missing".`,
	},
	{
		Name: "default_cpu", Type: "string",
		Description: `CPU limit of agents that set none, like "1" or "500m". Default: no limit.`,
	},
	{
		Name: "default_memory", Type: "string",
		Description: `Memory limit of agents that set none, like "2Gi". Default: no limit.`,
	},
	{
		Name: "pids_limit", Type: "number",
		Description: "Most processes one agent may run at once (a fork bomb stops there); 0 for no limit. Default 1024.",
	},
	{
		Name: "user", Type: "string",
		Description: `User to run agents as, like "1000:1000" when the image's own user can't write your workdirs. ` +
			`Default: the image's user (agent in the parallax images).`,
	},
	{
		Name: "labels", Type: "map(string)",
		Description: `Extra labels on every agent container, like { team = "infra" }. Keys starting with "parallax." are the runtime's own.`,
	},
	{
		Name: "workdir_roots", Type: "list(string)",
		Description: `Directories whose subdirectories may be bind-mounted as an agent's workdir at /workspace, like ["~/src", "/tmp"]. ` +
			`Default: none, so agents with a workdir are refused until you list its parent here.`,
	},
	{
		Name: "default_stop_timeout", Type: "string",
		Description: `How long a graceful stop waits between SIGTERM and SIGKILL, as a duration like "10s". Default "10s".`,
	},
	{
		Name: "scrollback_bytes", Type: "number",
		Description: "Output kept per agent and replayed to a new attach. Default 262144 (256 KiB).",
	},
}

// defaultImages are what `make images` builds.
var defaultImages = map[string]string{
	"claude": "parallax/agent-claude:latest",
	"codex":  "parallax/agent-codex:latest",
	"gemini": "parallax/agent-gemini:latest",
	"aider":  "parallax/agent-aider:latest",
}

func defaultConfig() Config {
	images := make(map[string]string, len(defaultImages))
	for k, v := range defaultImages {
		images[k] = v
	}
	return Config{
		Network:            "none",
		Images:             images,
		DefaultImage:       "parallax/agent-base:latest",
		PullPolicy:         pullIfMissing,
		PidsLimit:          1024,
		Labels:             map[string]string{},
		DefaultStopTimeout: 10 * time.Second,
		ScrollbackBytes:    256 << 10,
	}
}

// decodeConfig reads the config block. The host has checked it against the
// schema already; we check again because a plugin may be driven by anything,
// and say which attribute is wrong and how to fix it.
func decodeConfig(raw []byte) (Config, error) {
	cfg := defaultConfig()
	if len(bytes.TrimSpace(raw)) == 0 {
		return cfg, nil
	}
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(raw, &attrs); err != nil {
		return cfg, fmt.Errorf("%w: config must be a JSON object: %v", runtime.ErrInvalidSpec, err)
	}
	names := make([]string, 0, len(attrs))
	for name := range attrs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := cfg.set(name, attrs[name]); err != nil {
			return cfg, fmt.Errorf("%w: config attribute %q: %v", runtime.ErrInvalidSpec, name, err)
		}
	}
	return cfg, nil
}

func (c *Config) set(name string, raw json.RawMessage) error {
	switch name {
	case "host":
		s, err := str(raw, `an address like "unix:///var/run/docker.sock"`)
		if err != nil {
			return err
		}
		if !strings.Contains(s, "://") {
			return fmt.Errorf("%q has no scheme; write it like \"unix:///var/run/docker.sock\" or \"tcp://10.0.0.5:2376\"", s)
		}
		c.Host = s
	case "network":
		s, err := str(raw, `a network mode like "none" or "bridge"`)
		if err != nil {
			return err
		}
		if s == "" {
			return fmt.Errorf(`is empty; use "none", "bridge", "host" or the name of a network`)
		}
		c.Network = s
	case "images":
		var m map[string]string
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf(`want a map of agent type to image, like { claude = "parallax/agent-claude:latest" }`)
		}
		for typ, img := range m {
			if strings.TrimSpace(img) == "" {
				return fmt.Errorf("the image for %q is empty; give an image reference or leave %q out", typ, typ)
			}
			c.Images[typ] = img
		}
	case "default_image":
		s, err := str(raw, `an image reference like "parallax/agent-base:latest"`)
		if err != nil {
			return err
		}
		c.DefaultImage = s
	case "pull_policy":
		s, err := str(raw, `"never", "if-missing" or "always"`)
		if err != nil {
			return err
		}
		if s != pullNever && s != pullIfMissing && s != pullAlways {
			return fmt.Errorf(`%q is not known; use "never", "if-missing" or "always"`, s)
		}
		c.PullPolicy = s
	case "default_cpu":
		s, err := str(raw, `a CPU amount like "1" or "500m"`)
		if err != nil {
			return err
		}
		if _, err := runtime.ParseCPU(s); err != nil {
			return err
		}
		c.DefaultCPU = s
	case "default_memory":
		s, err := str(raw, `a memory size like "2Gi"`)
		if err != nil {
			return err
		}
		if _, err := runtime.ParseMemory(s); err != nil {
			return err
		}
		c.DefaultMemory = s
	case "pids_limit":
		var f float64
		if err := json.Unmarshal(raw, &f); err != nil || f != math.Trunc(f) || f < 0 || f > 1<<22 {
			return fmt.Errorf("want a whole number of processes like 1024, or 0 for no limit")
		}
		c.PidsLimit = int64(f)
	case "user":
		s, err := str(raw, `a user like "agent" or "1000:1000"`)
		if err != nil {
			return err
		}
		c.User = s
	case "labels":
		var m map[string]string
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf(`want a map of strings like { team = "infra" }`)
		}
		for k, v := range m {
			if k == "" || isReservedLabel(k) {
				return fmt.Errorf("label %q is empty or starts with %q, which the runtime keeps for itself; rename it", k, labelPrefix)
			}
			c.Labels[k] = v
		}
	case "workdir_roots":
		var roots []string
		if err := json.Unmarshal(raw, &roots); err != nil {
			return fmt.Errorf(`want a list of directories like ["~/src", "/tmp"]`)
		}
		c.WorkdirRoots = c.WorkdirRoots[:0]
		for _, root := range roots {
			abs, err := expandHome(root)
			if err != nil {
				return err
			}
			if !filepath.IsAbs(abs) {
				return fmt.Errorf("%q is not an absolute path; give one like \"/srv/repos\" or \"~/src\"", root)
			}
			c.WorkdirRoots = append(c.WorkdirRoots, filepath.Clean(abs))
		}
	case "default_stop_timeout":
		s, err := str(raw, `a duration like "10s"`)
		if err != nil {
			return err
		}
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return fmt.Errorf("%q is not a positive duration; give one like \"10s\" or \"1m\"", s)
		}
		c.DefaultStopTimeout = d
	case "scrollback_bytes":
		var f float64
		if err := json.Unmarshal(raw, &f); err != nil {
			return fmt.Errorf("want a number of bytes like 262144")
		}
		if f != math.Trunc(f) || f < minScrollback || f > maxScrollback {
			return fmt.Errorf("%v is out of range; give a whole number of bytes from %d to %d", f, minScrollback, maxScrollback)
		}
		c.ScrollbackBytes = int(f)
	default:
		return fmt.Errorf("unknown attribute; known ones are %s", strings.Join(schemaNames(), ", "))
	}
	return nil
}

// str decodes a JSON string; want says what to give instead.
func str(raw json.RawMessage, want string) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("want %s", want)
	}
	return strings.TrimSpace(s), nil
}

// expandHome turns a leading ~ into the plugin user's home, which is the
// host's: the host starts the plugin as itself.
func expandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot expand %q: %v; give an absolute path", p, err)
	}
	return filepath.Join(home, p[1:]), nil
}

// imageFor picks an agent's image: the spec's hint, else the one for its
// type, else the default.
func (c *Config) imageFor(hint, agentType string) string {
	if hint != "" {
		return hint
	}
	if img, ok := c.Images[agentType]; ok {
		return img
	}
	return c.DefaultImage
}

// schemaNames lists the attribute names, for tests and messages.
func schemaNames() []string {
	names := make([]string, len(configSchema))
	for i, a := range configSchema {
		names[i] = a.Name
	}
	return names
}
