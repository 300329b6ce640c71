package agents

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/parallax/parallax/host/internal/adapter"
	"github.com/parallax/parallax/host/internal/session"
	"github.com/parallax/parallax/host/internal/store"
)

func (m *Manager) sessionOf(id string) (*agent, *session.Session, error) {
	a, err := m.find(id)
	if err != nil {
		return nil, nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pool != nil {
		return nil, nil, fmt.Errorf("agent %s: %w", id, ErrPooled)
	}
	if a.session == nil || !a.status.Live() {
		return nil, nil, fmt.Errorf("%w: agent %s is %s", session.ErrStopped, id, a.status)
	}
	return a, a.session, nil
}

// Send types a message to an agent and, with expectResponse, waits for its
// reply. A busy agent refuses (session.ErrBusy) rather than queueing, so a
// caller always knows which reply answers which message.
func (m *Manager) Send(ctx context.Context, id, text string, expectResponse bool, timeout time.Duration) (session.Message, error) {
	a, sess, err := m.sessionOf(id)
	if err != nil {
		return session.Message{}, err
	}
	msg, err := sess.Send(ctx, text, expectResponse, timeout)
	if err == nil {
		a.messages.Add(1)
	}
	msg.Content = a.redact(msg.Content)
	return msg, err
}

// ProvideCredentials gets an agent going that waits for a login: it
// restarts the agent, same id, with apiKey as the credential its CLI reads,
// written into its pre-seeded home. A restart works the same for every CLI,
// where typing into each one's key form would not.
func (m *Manager) ProvideCredentials(ctx context.Context, id, apiKey string) (View, error) {
	a, err := m.find(id)
	if err != nil {
		return View{}, err
	}
	if strings.TrimSpace(apiKey) == "" {
		return View{}, &InputError{"apiKey", "is required"}
	}
	a.mu.Lock()
	req, pooled := a.req, a.pool != nil
	a.mu.Unlock()
	if pooled {
		return View{}, fmt.Errorf("agent %s: %w", id, ErrPooled)
	}
	env := adapter.CredentialEnv(req.Type)
	if env == "" {
		return View{}, &InputError{"apiKey", fmt.Sprintf("type %q has no single key to provide; pass credentials when spawning", req.Type)}
	}
	req.Credentials = req.Credentials.With(env, apiKey)
	if err := m.stop(ctx, a, StopOptions{Force: true}); err != nil {
		return View{}, err
	}
	m.remove(a)
	// The new agent of the same id writes the record from now on.
	a.mu.Lock()
	a.forgotten = true
	a.mu.Unlock()
	cands, err := m.rts.Candidates(a.runtimeName())
	if err != nil {
		return View{}, err
	}
	m.log.Info("restarting agent with new credentials", "agent", id)
	return m.start(ctx, id, a.createdAt, req, cands, nil)
}

// Answer answers an agent's pending question: with keys, or by choosing
// option choice (1-based) when choice > 0.
func (m *Manager) Answer(id string, keys []string, choice int) error {
	a, sess, err := m.sessionOf(id)
	if err != nil {
		return err
	}
	answer := store.Entry{Kind: store.KindAnswer, Text: strings.Join(keys, ",")}
	if choice > 0 {
		answer.Text = fmt.Sprintf("choice %d", choice)
		err = sess.Choose(choice)
	} else {
		err = sess.SendKeys(keys)
	}
	if err == nil {
		m.transcribe(a, answer)
	}
	return err
}
