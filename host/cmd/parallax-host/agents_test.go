package main

import (
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

func TestClientCommands(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantOut  []string // substrings of stdout
		wantErr  []string // substrings of stderr
		wantReq  string   // the last request, "METHOD URI"
	}{
		{
			name: "list table", args: []string{"agents", "list"},
			wantOut: []string{"ID  NAME    TYPE    STATUS", "a1  worker  custom  ready", "b2  -       claude  ready (question)  docker"},
			wantReq: "GET /api/managed-agents",
		},
		{
			name: "list json is the API's", args: []string{"agents", "list", "-o", "json"},
			wantOut: []string{`"id": "a1"`, `"selected": 0`},
		},
		{
			name: "list ids", args: []string{"agents", "list", "-q", "--status", "ready", "--capability", "review"},
			wantOut: []string{"a1\nb2\n"}, wantReq: "GET /api/managed-agents?capability=review&status=ready",
		},
		{
			name: "get table, id first", args: []string{"agents", "get", "a1"},
			wantOut: []string{"ID            a1\nNAME          worker\n", "STATUS        ready", "COMMAND       bash --norc", "CAPABILITIES  review"},
		},
		{
			name: "flags after the id", args: []string{"agents", "get", "a1", "-o", "json"},
			wantOut: []string{"{\n  \"id\": \"a1\",\n", `"command": [`},
		},
		{
			name: "send", args: []string{"agents", "send", "a1", "hello there"},
			wantErr: []string{"sent to a1"}, wantReq: "POST /api/managed-agents/a1/send",
		},
		{
			name: "a message after -- may start with a dash", args: []string{"agents", "send", "a1", "--", "-v is verbose"},
			wantErr: []string{"sent to a1"}, wantReq: "POST /api/managed-agents/a1/send",
		},
		{
			name: "send and wait prints the reply", args: []string{"agents", "send", "a1", "hello", "--wait"},
			wantOut: []string{"the reply\n"},
		},
		{
			name: "send and wait, json", args: []string{"agents", "send", "--wait", "-o", "json", "a1", "hello"},
			wantOut: []string{`"content": "the reply"`},
		},
		{
			name: "logs", args: []string{"agents", "logs", "a1", "--tail", "5", "--raw"},
			wantOut: []string{"log line (raw=true&tail=5)\n"},
		},
		{
			name: "metrics", args: []string{"agents", "metrics", "a1"},
			wantOut: []string{"CPU       12.5%", "MEMORY    3.0 GiB", "UPTIME    2m5s", "MESSAGES  4"},
		},
		{
			name: "metrics without stats", args: []string{"agents", "metrics", "b2"},
			wantOut: []string{"CPU       -\nMEMORY    -\n"},
		},
		{
			name: "metrics json", args: []string{"agents", "metrics", "b2", "-o", "json"},
			wantOut: []string{`"cpu": null`},
		},
		{
			name: "stop", args: []string{"agents", "stop", "a1", "--force", "--timeout", "10s"},
			wantOut: []string{"STATUS   stopped", "EXIT     code 0, signal SIGTERM: stopped by request"},
			wantReq: "DELETE /api/managed-agents/a1?force=true&timeout=10",
		},
		{
			name: "events", args: []string{"events"},
			wantOut: []string{"agent_started    a1", `message          a1                {"content":"hi","role":"assistant"}`},
			wantErr: []string{"the host ended the stream"},
		},
		{
			name: "events json lines", args: []string{"events", "--agent", "a1", "-o", "json"},
			wantOut: []string{"{\"event\":\"agent_started\",\"agentId\":\"a1\",\"time\":\"2026-01-02T03:04:05Z\"}\n{\"event\":\"message\""},
			wantReq: "GET /ws/events?agentId=a1",
		},
		{
			name: "not found", args: []string{"agents", "get", "missing"}, wantCode: 1,
			wantErr: []string{`parallax-host agents get: agent not found: "missing"`},
		},
		{
			name: "a field error", args: []string{"agents", "spawn", "--type", "claude", "--workdir", "/bad"}, wantCode: 1,
			wantErr: []string{`parallax-host agents spawn: workdir: "/bad" is not an existing directory`},
		},
		{
			name: "missing id", args: []string{"agents", "get"}, wantCode: 1,
			wantErr: []string{"want ID", `Run "parallax-host agents get --help"`},
		},
		{
			name: "too many arguments", args: []string{"agents", "metrics", "a1", "b2"}, wantCode: 1,
			wantErr: []string{"want ID"},
		},
		{
			name: "bad output format", args: []string{"agents", "list", "-o", "yaml"}, wantCode: 1,
			wantErr: []string{`-o "yaml": want table or json`},
		},
		{
			name: "unknown flag", args: []string{"agents", "list", "--colour"}, wantCode: 1,
			wantErr: []string{"flag provided but not defined: -colour"},
		},
		{
			name: "bad duration", args: []string{"agents", "stop", "a1", "--timeout", "soon"}, wantCode: 1,
			wantErr: []string{`want a duration such as "30s"`},
		},
		{
			name: "no type", args: []string{"agents", "spawn"}, wantCode: 1,
			wantErr: []string{"want --type"},
		},
		{
			name: "custom without a command", args: []string{"agents", "spawn", "--type", "custom"}, wantCode: 1,
			wantErr: []string{`runs the command after "--"`},
		},
		{
			name: "tail with follow", args: []string{"agents", "logs", "a1", "-f", "--tail", "3"}, wantCode: 1,
			wantErr: []string{"--tail does not apply with -f"},
		},
		{
			name: "unknown agents command", args: []string{"agents", "kill"}, wantCode: 1,
			wantErr: []string{`unknown command "kill"`},
		},
		{
			name: "agents help", args: []string{"agents", "--help"},
			wantOut: []string{"parallax-host agents attach ID"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHost(t)
			code, out, errOut := runClient(tt.args, map[string]string{"PARALLAX_ADDR": h.url}, strings.NewReader(tt.stdin))
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, errOut)
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q; it is:\n%s", want, out)
				}
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q; it is:\n%s", want, errOut)
				}
			}
			if tt.wantReq != "" {
				reqs := h.requests()
				if len(reqs) == 0 || reqs[len(reqs)-1].Method+" "+reqs[len(reqs)-1].Path != tt.wantReq {
					t.Errorf("requests %+v; want the last %q", reqs, tt.wantReq)
				}
			}
		})
	}
}

func TestEveryCommandHasHelpWithAnExample(t *testing.T) {
	for _, args := range [][]string{
		{"agents", "spawn"}, {"agents", "list"}, {"agents", "get"}, {"agents", "send"}, {"agents", "logs"},
		{"agents", "metrics"}, {"agents", "stop"}, {"agents", "attach"}, {"events"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, errOut := runClient(append(args, "--help"), nil, nil)
			if code != 0 || errOut != "" {
				t.Errorf("exit %d, stderr %q; want 0 and nothing", code, errOut)
			}
			for _, want := range []string{"Usage: parallax-host " + strings.Join(args, " "), "Example", "  parallax-host " + strings.Join(args, " "), "-addr"} {
				if !strings.Contains(out, want) {
					t.Errorf("help lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestConnectionErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	h := newFakeHost(t)
	h.token = "s3cret"
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr []string
	}{
		{
			"connection refused", map[string]string{"PARALLAX_ADDR": closed}, []string{"agents", "list"},
			[]string{"no parallax host is running at http://" + closed, `"parallax-host run config.hcl"`},
		},
		{
			"--addr wins over the variable", map[string]string{"PARALLAX_ADDR": h.url}, []string{"agents", "list", "--addr", closed},
			[]string{"no parallax host is running at http://" + closed},
		},
		{
			"refused websocket", map[string]string{"PARALLAX_ADDR": closed}, []string{"agents", "attach", "a1"},
			[]string{"no parallax host is running at"},
		},
		{
			"no token", map[string]string{"PARALLAX_ADDR": h.url}, []string{"agents", "list"},
			[]string{"requires a token: set PARALLAX_TOKEN"},
		},
		{
			"wrong token", map[string]string{"PARALLAX_ADDR": h.url, "PARALLAX_TOKEN": "nope"}, []string{"agents", "list"},
			[]string{"refused the token: set PARALLAX_TOKEN"},
		},
		{
			"no token on a websocket", map[string]string{"PARALLAX_ADDR": h.url}, []string{"events"},
			[]string{"requires a token: set PARALLAX_TOKEN"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runClient(tt.args, tt.env, nil)
			if code != 1 || out != "" {
				t.Errorf("exit %d, stdout %q; want 1 and nothing", code, out)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q; it is:\n%s", want, errOut)
				}
			}
		})
	}
	// The right token works, from the variable or the flag.
	for _, env := range []map[string]string{{"PARALLAX_ADDR": h.url, "PARALLAX_TOKEN": "s3cret"}} {
		if code, _, errOut := runClient([]string{"agents", "list"}, env, nil); code != 0 {
			t.Errorf("with PARALLAX_TOKEN: exit %d: %s", code, errOut)
		}
	}
	if code, _, errOut := runClient([]string{"agents", "list", "--token", "s3cret"}, map[string]string{"PARALLAX_ADDR": h.url}, nil); code != 0 {
		t.Errorf("with --token: exit %d: %s", code, errOut)
	}
}

func TestSpawnRequest(t *testing.T) {
	wd := t.TempDir()
	t.Chdir(wd)
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantBody string
		wantOut  string
	}{
		{
			name: "everything",
			args: []string{"--type", "custom", "--name", "w", "--workdir", "sub", "--runtime", "local", "--capability", "a", "--capability", "b",
				"--role", "tester", "--env", "K=V=W", "--env", "E=", "--cpu", "500m", "--memory", "2Gi", "--timeout", "30m", "--", "bash", "--norc"},
			wantBody: `{"capabilities":["a","b"],"command":["bash","--norc"],"env":{"E":"","K":"V=W"},"name":"w",` +
				`"resources":{"cpu":"500m","memory":"2Gi","timeout":"30m0s"},"role":"tester","runtime":"local","type":"custom","workdir":"` + filepath.Join(wd, "sub") + `"}`,
			wantOut: "ID            a1\n",
		},
		{
			name: "a command means custom", args: []string{"-q", "--", "sh", "-c", "echo hi"},
			wantBody: `{"command":["sh","-c","echo hi"],"type":"custom"}`, wantOut: "a1\n",
		},
		{
			name: "timeout in seconds", args: []string{"--type", "claude", "--timeout", "90"},
			wantBody: `{"resources":{"timeout":"1m30s"},"type":"claude"}`,
		},
		{
			name: "keys in the environment stay there without a flag", args: []string{"--type", "claude"},
			env:      map[string]string{"ANTHROPIC_API_KEY": "sk-ant", "GITHUB_TOKEN": "ghp"},
			wantBody: `{"type":"claude"}`,
		},
		{
			name: "--pass-credentials", args: []string{"--type", "claude", "--pass-credentials"},
			env:      map[string]string{"ANTHROPIC_API_KEY": "sk-ant", "GOOGLE_API_KEY": "g2", "GEMINI_API_KEY": "g1", "GITHUB_TOKEN": "ghp"},
			wantBody: `{"credentials":{"anthropicKey":"sk-ant","githubToken":"ghp","googleKey":"g1"},"type":"claude"}`,
		},
		{
			name: "a key from a named variable", args: []string{"--type", "codex", "--openai-key-env", "MY_KEY"},
			env:      map[string]string{"MY_KEY": "sk-o", "OPENAI_API_KEY": "other"},
			wantBody: `{"credentials":{"openaiKey":"sk-o"},"type":"codex"}`,
		},
		{
			name: "a named variable wins over --pass-credentials", args: []string{"--type", "gemini", "--pass-credentials", "--google-key-env", "G"},
			env:      map[string]string{"G": "mine", "GEMINI_API_KEY": "g1"},
			wantBody: `{"credentials":{"googleKey":"mine"},"type":"gemini"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHost(t)
			env := map[string]string{"PARALLAX_ADDR": h.url}
			for k, v := range tt.env {
				env[k] = v
			}
			code, out, errOut := runClient(append([]string{"agents", "spawn"}, tt.args...), env, nil)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			reqs := h.requests()
			if len(reqs) != 1 {
				t.Fatalf("requests %+v, want one spawn", reqs)
			}
			if got, _ := json.Marshal(reqs[0].Body); string(got) != tt.wantBody {
				t.Errorf("body\n%s\nwant\n%s", got, tt.wantBody)
			}
			if !strings.HasPrefix(out, tt.wantOut) {
				t.Errorf("stdout %q, want it to start %q", out, tt.wantOut)
			}
		})
	}
}

func TestSpawnCredentialErrors(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--type", "claude", "--anthropic-key-env", "UNSET"}, "--anthropic-key-env UNSET: the variable is not set"},
		{[]string{"--type", "claude", "--pass-credentials"}, "--pass-credentials: none of ANTHROPIC_API_KEY"},
		{[]string{"--type", "claude", "--env", "NOEQUALS"}, `--env "NOEQUALS": want NAME=VALUE`},
	}
	for _, tt := range tests {
		h := newFakeHost(t)
		code, _, errOut := runClient(append([]string{"agents", "spawn"}, tt.args...), map[string]string{"PARALLAX_ADDR": h.url}, nil)
		if code != 1 || !strings.Contains(errOut, tt.wantErr) || len(h.requests()) != 0 {
			t.Errorf("%v: exit %d, stderr %q, %d requests; want 1, %q, none", tt.args, code, errOut, len(h.requests()), tt.wantErr)
		}
	}
}

func TestSpawnWait(t *testing.T) {
	h := newFakeHost(t)
	h.starting = 3
	code, out, errOut := runClient([]string{"agents", "spawn", "--wait", "-o", "json", "--", "bash"}, map[string]string{"PARALLAX_ADDR": h.url}, nil)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, `"status": "ready"`) {
		t.Errorf("stdout %q, want the agent as ready", out)
	}
	if !strings.Contains(errOut, "waiting for agent a1 to start") || !strings.Contains(errOut, "agent a1 is ready after") {
		t.Errorf("stderr %q, want progress", errOut)
	}
	if gets := len(h.requests()) - 1; gets != 4 {
		t.Errorf("%d GETs, want 4: 3 starting, then ready", gets)
	}
}

func TestSendReadsStandardInput(t *testing.T) {
	h := newFakeHost(t)
	code, _, errOut := runClient([]string{"agents", "send", "a1", "-"}, map[string]string{"PARALLAX_ADDR": h.url}, strings.NewReader("line one\nline two\n"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if reqs := h.requests(); len(reqs) != 1 || reqs[0].Body["message"] != "line one\nline two" {
		t.Errorf("requests %+v, want the message from stdin", reqs)
	}
}

func TestLogsFollow(t *testing.T) {
	h := newFakeHost(t)
	h.terminalExits = true
	code, out, errOut := runClient([]string{"agents", "logs", "a1", "-f"}, map[string]string{"PARALLAX_ADDR": h.url}, nil)
	if code != 0 || out != "replay$ " {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0 and the replay", code, out, errOut)
	}
}
