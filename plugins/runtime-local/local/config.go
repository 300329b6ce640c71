package local

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
	// StateDir holds one record per running agent, so that a restarted
	// plugin can clean up after its predecessor. Empty means not set; see
	// stateDir.
	StateDir string
	// DefaultStopTimeout is how long a graceful stop waits before SIGKILL
	// when the caller gives no timeout.
	DefaultStopTimeout time.Duration
	// ScrollbackBytes bounds the output kept per agent for replay.
	ScrollbackBytes int
	// Cgroups is "auto" (use them where writable) or "off".
	Cgroups string
}

const (
	cgroupsAuto = "auto"
	cgroupsOff  = "off"

	minScrollback = 1 << 10
	maxScrollback = 1 << 30
)

var configSchema = []runtime.ConfigAttr{
	{
		Name: "state_dir", Type: "string",
		Description: "Directory for the per-agent records used to clean up after a plugin restart. " +
			"It must be owned by the plugin's user and not writable by group or others. " +
			"Default: the host's <server.data_dir>/runtimes/<runtime name>.",
	},
	{
		Name: "default_stop_timeout", Type: "string",
		Description: `How long a graceful stop waits between SIGTERM and SIGKILL, as a duration like "10s". Default "10s".`,
	},
	{
		Name: "scrollback_bytes", Type: "number",
		Description: "Output kept per agent and replayed to a new attach. Default 262144 (256 KiB).",
	},
	{
		Name: "cgroups", Type: "string",
		Description: `"auto" tracks agents and enforces cpu/memory limits with cgroups where they are writable; ` +
			`"off" never uses cgroups, so limits are not enforced. Default "auto".`,
	},
}

func defaultConfig() Config {
	return Config{
		DefaultStopTimeout: 10 * time.Second,
		ScrollbackBytes:    256 << 10,
		Cgroups:            cgroupsAuto,
	}
}

// stateDir picks the state dir and says where it came from, for errors:
// the state_dir attribute, else the private dir the host gives, else (from
// a host too old to give one) a per-user default.
func (c Config) stateDir(hostDataDir string) (dir, source string) {
	switch {
	case c.StateDir != "":
		return c.StateDir, `config attribute "state_dir"`
	case hostDataDir != "":
		return hostDataDir, `the host's data dir (set config attribute "state_dir" to use another)`
	}
	return legacyStateDir(), `the default state dir (set config attribute "state_dir" to use another)`
}

func legacyStateDir() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "parallax-runtime-local")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("parallax-runtime-local-%d", os.Getuid()))
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
	case "state_dir":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("want a string path like \"/run/parallax\"")
		}
		if !filepath.IsAbs(s) {
			return fmt.Errorf("%q is not an absolute path; give one like \"/run/parallax\"", s)
		}
		c.StateDir = filepath.Clean(s)
	case "default_stop_timeout":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("want a duration string like \"10s\"")
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
	case "cgroups":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf(`want "auto" or "off"`)
		}
		if s != cgroupsAuto && s != cgroupsOff {
			return fmt.Errorf(`%q is not known; use "auto" or "off"`, s)
		}
		c.Cgroups = s
	default:
		known := make([]string, len(configSchema))
		for i, a := range configSchema {
			known[i] = a.Name
		}
		return fmt.Errorf("unknown attribute; known ones are %s", strings.Join(known, ", "))
	}
	return nil
}
