package local

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/parallax/parallax/sdk/runtime/configblock"
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
)

// attrs declares the config {} block, decoding into c.
func (c *Config) attrs() []configblock.Attr {
	return []configblock.Attr{
		{
			Name: "state_dir", Type: "string",
			Description: "Directory for the per-agent records used to clean up after a plugin restart. " +
				"It must be owned by the plugin's user and not writable by group or others. " +
				"Default: the host's <server.data_dir>/runtimes/<runtime name>.",
			Decode: configblock.Value(&c.StateDir, `a string path like "/run/parallax"`, func(s string) (string, error) {
				if !filepath.IsAbs(s) {
					return "", fmt.Errorf("%q is not an absolute path; give one like \"/run/parallax\"", s)
				}
				return filepath.Clean(s), nil
			}),
		},
		configblock.StopTimeout(&c.DefaultStopTimeout),
		configblock.ScrollbackBytes(&c.ScrollbackBytes),
		{
			Name: "cgroups", Type: "string",
			Description: `"auto" tracks agents and enforces cpu/memory limits with cgroups where they are writable; ` +
				`"off" never uses cgroups, so limits are not enforced. Default "auto".`,
			Decode: configblock.OneOf(&c.Cgroups, cgroupsAuto, cgroupsOff),
		},
	}
}

func defaultConfig() Config {
	return Config{
		DefaultStopTimeout: configblock.DefaultStopTimeout,
		ScrollbackBytes:    configblock.DefaultScrollbackBytes,
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

// decodeConfig reads the config block over the defaults.
func decodeConfig(raw []byte) (Config, error) {
	cfg := defaultConfig()
	err := configblock.Decode(raw, cfg.attrs())
	return cfg, err
}
