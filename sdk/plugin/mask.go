package plugin

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// mask is what a secret becomes in the plugin's log; the host masks the
// same way.
const mask = "[REDACTED]"

// minSecretLen is the shortest value masked: masking a one-letter value
// would garble every line.
const minSecretLen = 6

// secretEnvWords mark an env var as holding a secret. The host passes an
// agent's keys as env vars named so (ANTHROPIC_API_KEY, GITHUB_TOKEN).
var secretEnvWords = []string{"KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL"}

func isSecretEnv(name string) bool {
	name = strings.ToUpper(name)
	for _, w := range secretEnvWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// secretMask writes a plugin's log with the secrets of the agents it runs
// masked. A plugin that outlives the host logs to a file in the host's
// data dir, which outlives the agents; a runtime logging a line that holds
// a key (a path, an error quoting an env) must not leave the key there.
// The secrets are learnt from the calls that carry an agent's env: Start,
// and Recover after the plugin itself restarted.
type secretMask struct {
	w  io.Writer
	mu sync.RWMutex
	// byAgent holds each agent's secrets until it is stopped.
	byAgent map[string][]string
}

func newSecretMask(w io.Writer) *secretMask {
	return &secretMask{w: w, byAgent: map[string][]string{}}
}

// learn keeps the secrets among an agent's env.
func (m *secretMask) learn(id string, env map[string]string) {
	if m == nil {
		return
	}
	var secrets []string
	for name, v := range env {
		if len(v) >= minSecretLen && isSecretEnv(name) {
			secrets = append(secrets, v)
		}
	}
	if len(secrets) == 0 {
		return
	}
	m.mu.Lock()
	m.byAgent[id] = secrets
	m.mu.Unlock()
}

// forget drops an agent's secrets once it is gone.
func (m *secretMask) forget(id string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	delete(m.byAgent, id)
	m.mu.Unlock()
}

// Write masks p and writes it whole: hclog writes a line per call, so a
// secret is never split across two.
func (m *secretMask) Write(p []byte) (int, error) {
	m.mu.RLock()
	out := p
	for _, secrets := range m.byAgent {
		for _, s := range secrets {
			if bytes.Contains(out, []byte(s)) {
				out = bytes.ReplaceAll(out, []byte(s), []byte(mask))
			}
		}
	}
	m.mu.RUnlock()
	if _, err := m.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
