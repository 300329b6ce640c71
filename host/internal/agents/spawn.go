package agents

import (
	"fmt"
	"github.com/parallax/parallax/host/internal/adapter"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/parallax/parallax/sdk/runtime"
)

// SpawnRequest asks for a new managed agent.
type SpawnRequest struct {
	Name      string            `json:"name"`
	Type      string            `json:"type"`
	Command   []string          `json:"command,omitempty"`
	Workdir   string            `json:"workdir,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	Runtime   string            `json:"runtime,omitempty"`
	Resources Resources         `json:"resources"`
	// Credentials become env vars or files in the agent's private home;
	// they never appear in a response, log or event.
	Credentials adapter.Credentials `json:"credentials"`
	// Approval overrides the agent type's: "autonomous" or "ask".
	Approval string `json:"approval,omitempty"`
}

// Resources limits an agent. Timeout is a Go duration ("30m") or a number
// of seconds.
type Resources struct {
	CPU     string   `json:"cpu,omitempty"`
	Memory  string   `json:"memory,omitempty"`
	Timeout Duration `json:"timeout,omitempty"`
}

// Duration reads a JSON duration as "90s" or as a number of seconds.
type Duration time.Duration

func (d *Duration) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		v, err := time.ParseDuration(strings.Trim(s, `"`))
		if err != nil || v < 0 {
			return &InputError{"resources.timeout", "want a duration like \"30m\" or a number of seconds"}
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if _, err := fmt.Sscan(s, &secs); err != nil || secs < 0 {
		return &InputError{"resources.timeout", "want a duration like \"30m\" or a number of seconds"}
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}

func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf("%q", time.Duration(d).String())), nil
}

// InputError is a bad spawn request. Field names the JSON field.
type InputError struct {
	Field string
	Msg   string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Msg }

var (
	envName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	agentName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
)

// validate checks r and fills defaults. It returns an *InputError.
func (r *SpawnRequest) validate() error {
	if r.Name != "" && !agentName.MatchString(r.Name) {
		return &InputError{"name", "use 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit"}
	}
	types := strings.Join(adapter.Types(), ", ")
	switch _, ok := adapter.For(r.Type); {
	case r.Type == "":
		return &InputError{"type", "is required: one of " + types}
	case !ok:
		return &InputError{"type", fmt.Sprintf("unknown type %q: use one of %s", r.Type, types)}
	}
	if r.Type == "custom" && (len(r.Command) == 0 || r.Command[0] == "") {
		return &InputError{"command", `is required for type "custom": an argv array such as ["bash"]`}
	}
	if r.Approval != "" && r.Approval != "autonomous" && r.Approval != "ask" {
		return &InputError{"approval", `use "autonomous" (skip the CLI's permission prompts) or "ask"`}
	}
	if r.Workdir != "" {
		wd, err := expandHome(r.Workdir)
		if err != nil {
			return &InputError{"workdir", err.Error()}
		}
		if !filepath.IsAbs(wd) {
			return &InputError{"workdir", fmt.Sprintf("%q is not an absolute path", r.Workdir)}
		}
		if fi, err := os.Stat(wd); err != nil || !fi.IsDir() {
			return &InputError{"workdir", fmt.Sprintf("%q is not an existing directory", r.Workdir)}
		}
		r.Workdir = wd
	}
	for k := range r.Env {
		if !envName.MatchString(k) {
			return &InputError{"env", fmt.Sprintf("%q is not a valid variable name", k)}
		}
	}
	if _, err := runtime.ParseCPU(r.Resources.CPU); err != nil {
		return &InputError{"resources.cpu", err.Error()}
	}
	if _, err := runtime.ParseMemory(r.Resources.Memory); err != nil {
		return &InputError{"resources.memory", err.Error()}
	}
	return nil
}

func expandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot expand ~: %v", err)
	}
	return filepath.Join(home, p[1:]), nil
}

// The terminal size every agent starts with.
const termCols, termRows = 120, 40

// Labels the host puts on every agent, so a runtime's Recover can tell the
// host what it adopts.
const (
	LabelID   = "parallax.agent-id"
	LabelName = "parallax.name"
	LabelType = "parallax.type"
)

func (r *SpawnRequest) spec(id string, l adapter.Launch) runtime.Spec {
	env := make(map[string]string, len(l.Env)+1)
	for k, v := range l.Env {
		env[k] = v
	}
	if _, ok := env["TERM"]; !ok {
		env["TERM"] = "xterm-256color"
	}
	return runtime.Spec{
		ID:      id,
		Argv:    l.Argv,
		Env:     env,
		Workdir: r.Workdir,
		Size:    runtime.Size{Cols: termCols, Rows: termRows},
		Resources: runtime.Resources{
			CPU: r.Resources.CPU, Memory: r.Resources.Memory, Timeout: time.Duration(r.Resources.Timeout),
		},
		Labels: map[string]string{LabelID: id, LabelName: r.Name, LabelType: r.Type},
	}
}
