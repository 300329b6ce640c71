package docker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parallax/parallax/sdk/runtime/configblock"
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
)

// attrs declares the config {} block, decoding into c.
func (c *Config) attrs() []configblock.Attr {
	return []configblock.Attr{
		{
			Name: "host", Type: "string",
			Description: `The Docker engine's address, like "unix:///var/run/docker.sock" or "tcp://10.0.0.5:2376". ` +
				`Default: $DOCKER_HOST, else the local socket.`,
			Decode: configblock.Value(&c.Host, `an address like "unix:///var/run/docker.sock"`, func(s string) (string, error) {
				s = strings.TrimSpace(s)
				if !strings.Contains(s, "://") {
					return "", fmt.Errorf("%q has no scheme; write it like \"unix:///var/run/docker.sock\" or \"tcp://10.0.0.5:2376\"", s)
				}
				return s, nil
			}),
		},
		{
			Name: "network", Type: "string",
			Description: `Network mode of agent containers: "none", "bridge", "host" or a network's name. ` +
				`Default "none": agents reach nothing, not even their model's API, until you choose otherwise.`,
			Decode: configblock.Value(&c.Network, `a network mode like "none" or "bridge"`, func(s string) (string, error) {
				if s = strings.TrimSpace(s); s == "" {
					return "", errors.New(`is empty; use "none", "bridge", "host" or the name of a network`)
				}
				return s, nil
			}),
		},
		{
			Name: "images", Type: "map(string)",
			Description: `Image per agent type, like { claude = "parallax/agent-claude:latest" }. ` +
				`Default: parallax/agent-<type>:latest for claude, codex, gemini and aider (built by make images).`,
			Decode: configblock.Map(&c.Images, `a map of agent type to image, like { claude = "parallax/agent-claude:latest" }`,
				func(typ, img string) error {
					if strings.TrimSpace(img) == "" {
						return fmt.Errorf("the image for %q is empty; give an image reference or leave %q out", typ, typ)
					}
					return nil
				}),
		},
		{
			Name: "default_image", Type: "string",
			Description: `Image for agent types not in images, such as custom. Default "parallax/agent-base:latest".`,
			Decode:      configblock.Value(&c.DefaultImage, `an image reference like "parallax/agent-base:latest"`, trimSpace),
		},
		{
			Name: "pull_policy", Type: "string",
			Description: `When to pull an image: "never", "if-missing" or "always". Default "if-missing".`,
			Decode:      configblock.OneOf(&c.PullPolicy, pullNever, pullIfMissing, pullAlways),
		},
		{
			Name: "default_cpu", Type: "string",
			Description: `CPU limit of agents that set none, like "1" or "500m". Default: no limit.`,
			Decode:      configblock.CPU(&c.DefaultCPU),
		},
		{
			Name: "default_memory", Type: "string",
			Description: `Memory limit of agents that set none, like "2Gi". Default: no limit.`,
			Decode:      configblock.Memory(&c.DefaultMemory),
		},
		{
			Name: "pids_limit", Type: "number",
			Description: "Most processes one agent may run at once (a fork bomb stops there); 0 for no limit. Default 1024.",
			Decode:      configblock.Int(&c.PidsLimit, 0, 1<<22, "a whole number of processes like 1024, or 0 for no limit"),
		},
		{
			Name: "user", Type: "string",
			Description: `User to run agents as, like "1000:1000" when the image's own user can't write your workdirs. ` +
				`Default: the image's user (agent in the parallax images).`,
			Decode: configblock.Value(&c.User, `a user like "agent" or "1000:1000"`, trimSpace),
		},
		{
			Name: "labels", Type: "map(string)",
			Description: `Extra labels on every agent container, like { team = "infra" }. Keys starting with "parallax." are the runtime's own.`,
			Decode: configblock.Map(&c.Labels, `a map of strings like { team = "infra" }`, func(k, _ string) error {
				if k == "" || isReservedLabel(k) {
					return fmt.Errorf("label %q is empty or starts with %q, which the runtime keeps for itself; rename it", k, labelPrefix)
				}
				return nil
			}),
		},
		{
			Name: "workdir_roots", Type: "list(string)",
			Description: `Directories whose subdirectories may be bind-mounted as an agent's workdir at /workspace, like ["~/src", "/tmp"]. ` +
				`Default: none, so agents with a workdir are refused until you list its parent here.`,
			Decode: configblock.List(&c.WorkdirRoots, `a list of directories like ["~/src", "/tmp"]`, func(root string) (string, error) {
				abs, err := expandHome(root)
				if err != nil {
					return "", err
				}
				if !filepath.IsAbs(abs) {
					return "", fmt.Errorf("%q is not an absolute path; give one like \"/srv/repos\" or \"~/src\"", root)
				}
				return filepath.Clean(abs), nil
			}),
		},
		configblock.StopTimeout(&c.DefaultStopTimeout),
		configblock.ScrollbackBytes(&c.ScrollbackBytes),
	}
}

func trimSpace(s string) (string, error) { return strings.TrimSpace(s), nil }

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
		DefaultStopTimeout: configblock.DefaultStopTimeout,
		ScrollbackBytes:    configblock.DefaultScrollbackBytes,
	}
}

// decodeConfig reads the config block over the defaults.
func decodeConfig(raw []byte) (Config, error) {
	cfg := defaultConfig()
	err := configblock.Decode(raw, cfg.attrs())
	return cfg, err
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
