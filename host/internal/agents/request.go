package agents

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/parallax/parallax/host/internal/adapter"
	"github.com/parallax/parallax/host/internal/config"

	"github.com/parallax/parallax/sdk/runtime"
)

// SpawnRequest asks for a new managed agent.
type SpawnRequest struct {
	Name         string            `json:"name"`
	Type         string            `json:"type"`
	Capabilities []string          `json:"capabilities,omitempty"`
	Role         string            `json:"role,omitempty"`
	Command      []string          `json:"command,omitempty"`
	Workdir      string            `json:"workdir,omitempty"`
	Env          map[string]string `json:"env,omitempty"`
	Runtime      string            `json:"runtime,omitempty"`
	Resources    Resources         `json:"resources"`
	// Credentials become env vars or files in the agent's private home;
	// they never appear in a response, log or event.
	Credentials adapter.Credentials `json:"credentials"`
	// Approval overrides the agent type's: "autonomous" or "ask".
	Approval string `json:"approval,omitempty"`
	// ReadyPattern overrides the agent type's ready_pattern: a regular
	// expression that the screen's last non-empty row matches when the
	// agent waits for input.
	ReadyPattern string `json:"readyPattern,omitempty"`
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

// MaxTimeout bounds resources.timeout. Past it, seconds overflow a
// time.Duration (1e300 became negative); a year is longer than any agent
// is meant to run.
const MaxTimeout = 8760 * time.Hour

func timeoutError() error {
	return &InputError{"resources.timeout", `want a duration from 0 to 8760h (a year), like "30m", or a number of seconds from 0 to 31536000`}
}

func (d *Duration) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return timeoutError()
		}
		v, err := time.ParseDuration(str)
		if err != nil || v < 0 || v > MaxTimeout {
			return timeoutError()
		}
		*d = Duration(v)
		return nil
	}
	// Comparisons with NaN are false, so the range is written to fail on it.
	secs, err := strconv.ParseFloat(s, 64)
	if err != nil || !(secs >= 0 && secs <= MaxTimeout.Seconds()) {
		return timeoutError()
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
	envName    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	agentName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	capability = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,62}$`)
)

// validate checks r and fills defaults. allowedWorkdirs, if not empty,
// are the directories a workdir must be in. It returns an *InputError.
func (r *SpawnRequest) validate(allowedWorkdirs []string) error {
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
	if r.Type == adapter.CustomType && (len(r.Command) == 0 || r.Command[0] == "") {
		return &InputError{"command", `is required for type "custom": an argv array such as ["bash"]`}
	}
	for i, c := range r.Capabilities {
		if !capability.MatchString(c) {
			return &InputError{fmt.Sprintf("capabilities[%d]", i), fmt.Sprintf("%q: use 1 to 63 letters, digits, '.', '_', ':', '/' or '-', such as \"code_review\"", c)}
		}
	}
	if len(r.Role) > 64 || strings.ContainsFunc(r.Role, unicode.IsControl) {
		return &InputError{"role", "use at most 64 printable characters"}
	}
	if r.Approval != "" && r.Approval != "autonomous" && r.Approval != "ask" {
		return &InputError{"approval", `use "autonomous" (skip the CLI's permission prompts) or "ask"`}
	}
	if r.ReadyPattern != "" {
		if _, err := adapter.ReadyPattern("readyPattern", r.ReadyPattern); err != nil {
			return &InputError{"readyPattern", strings.TrimPrefix(err.Error(), "readyPattern ")}
		}
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
		if err := checkAllowed(wd, allowedWorkdirs); err != nil {
			return &InputError{"workdir", err.Error()}
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
	// A request built in Go, not decoded, skips UnmarshalJSON's check.
	if t := time.Duration(r.Resources.Timeout); t < 0 || t > MaxTimeout {
		return timeoutError()
	}
	return nil
}

// checkAllowed says whether dir is inside one of the allowed directories,
// symlinks resolved, so a link can't lead out of them.
func checkAllowed(dir string, allowed []string) error {
	if len(allowed) == 0 {
		return nil
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	for _, root := range allowed {
		rootReal, err := filepath.EvalSymlinks(root)
		if err != nil {
			continue
		}
		if rel, err := filepath.Rel(rootReal, real); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return nil
		}
	}
	return fmt.Errorf("%q is outside the allowed directories (%s); use a directory under one of them, or add its parent to server.allowed_workdirs", dir, strings.Join(allowed, ", "))
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
	LabelRole = "parallax.role"
	// LabelCapabilities holds the capabilities joined by commas.
	LabelCapabilities = "parallax.capabilities"
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
		Labels: map[string]string{
			LabelID: id, LabelName: r.Name, LabelType: r.Type,
			LabelRole: r.Role, LabelCapabilities: strings.Join(r.Capabilities, ","),
		},
	}
}

// adapterFor is the adapter of an agent spawned by req: its type's, reading
// ready by the request's ready pattern, else by the type's.
func adapterFor(req SpawnRequest, at config.AgentType) adapter.Adapter {
	ad, ok := adapter.For(req.Type)
	if !ok {
		ad = adapter.Custom{}
	}
	re := at.ReadyPattern
	if req.ReadyPattern != "" {
		// validate took it; a stored request from before is taken as is.
		if r, err := adapter.ReadyPattern("readyPattern", req.ReadyPattern); err == nil {
			re = r
		}
	}
	return adapter.WithReadyPattern(ad, re)
}
