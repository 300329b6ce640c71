package adapter

import (
	"slices"
	"testing"
)

func TestTypes(t *testing.T) {
	types := Types()
	if !slices.IsSorted(types) || !slices.Contains(types, CustomType) {
		t.Errorf("Types() = %q, want them sorted, %q among them", types, CustomType)
	}
	for _, typ := range types {
		if a, ok := For(typ); !ok || a.Type() != typ {
			t.Errorf("For(%q) = %v, %t", typ, a, ok)
		}
	}
	if _, ok := For("cursor"); ok {
		t.Error(`For("cursor") found an adapter`)
	}
}

func TestPoolable(t *testing.T) {
	pooled := PoolableTypes()
	if !slices.IsSorted(pooled) {
		t.Errorf("PoolableTypes() = %q, want them sorted", pooled)
	}
	for _, typ := range pooled {
		if !slices.Contains(Types(), typ) {
			t.Errorf("PoolableTypes() has %q, which Types() lacks", typ)
		}
	}
	for _, typ := range append(Types(), "cursor") {
		if got, want := Poolable(typ), slices.Contains(pooled, typ); got != want {
			t.Errorf("Poolable(%q) = %t, want %t as PoolableTypes() says", typ, got, want)
		}
	}
	// A custom agent needs a command in each request; a pool has none.
	if Poolable(CustomType) {
		t.Errorf("Poolable(%q) = true", CustomType)
	}
}

func TestCredentialEnv(t *testing.T) {
	for typ, want := range map[string]string{
		"claude": "ANTHROPIC_API_KEY", "codex": "OPENAI_API_KEY", "gemini": "GEMINI_API_KEY",
		// Aider reads each provider's key, a custom program any.
		"aider": "", CustomType: "", "cursor": "",
	} {
		if got := CredentialEnv(typ); got != want {
			t.Errorf("CredentialEnv(%q) = %q, want %q", typ, got, want)
		}
	}
	// The key set by CredentialEnv reaches the CLI in that env var, and is
	// the only credential set.
	for _, typ := range Types() {
		env := CredentialEnv(typ)
		if env == "" {
			continue
		}
		creds := Credentials{}.With(env, "FAKE-key")
		if got := creds.Secrets(); !slices.Equal(got, []string{"FAKE-key"}) {
			t.Errorf("%s: Credentials{}.With(%q, key) holds %q, want the key alone", typ, env, got)
		}
		a, _ := For(typ)
		l, err := a.Launch(LaunchOptions{Credentials: creds})
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if l.Env[env] != "FAKE-key" {
			t.Errorf("%s: env %s = %q, want the key", typ, env, l.Env[env])
		}
	}
	if c := (Credentials{GitHubToken: "t"}).With("PATH", "x"); c != (Credentials{GitHubToken: "t"}) {
		t.Errorf(`With("PATH", x) = %+v, want no change`, c)
	}
}
