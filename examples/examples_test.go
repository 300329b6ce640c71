// Package examples tests the example agents as a user runs them: built
// binaries that register in a real etcd (embedded in the test process) and
// answer the Agent protocol on loopback.
package examples

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/parallax/parallax/sdk/agent/protocol"
	"github.com/parallax/parallax/sdk/agent/registry"
	"github.com/parallax/parallax/sdk/agent/registry/registrytest"
)

// runExample builds and starts example name with args and returns its
// process and the endpoint it printed.
func runExample(t *testing.T, name string, cli *clientv3.Client, args ...string) (*exec.Cmd, string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("go", "build", "-o", bin, "./"+name).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, out)
	}
	cmd := exec.Command(bin, append([]string{"-etcd", cli.Endpoints()[0]}, args...)...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("%s printed no endpoint: %v", name, err)
	}
	_, endpoint, ok := strings.Cut(strings.TrimSpace(line), " answering on ")
	if !ok {
		t.Fatalf("%s printed %q", name, line)
	}
	return cmd, endpoint
}

// registered waits until id is registered in etcd and returns its entry.
func registered(t *testing.T, cli *clientv3.Client, id string) registry.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for ev := range registry.Watch(ctx, cli, registry.DefaultPrefix, nil) {
		if ev.ID == id && ev.Type == registry.EventPut {
			return ev.Entry
		}
	}
	t.Fatalf("agent %s never registered", id)
	return registry.Entry{}
}

// gone waits until id's key has left etcd.
func gone(t *testing.T, cli *clientv3.Client, id string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		resp, err := cli.Get(context.Background(), registry.Key(registry.DefaultPrefix, id))
		if err == nil && resp.Count == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("agent %s is still registered", id)
}

func TestExampleAgents(t *testing.T) {
	cli := registrytest.Start(t)
	ctx := context.Background()

	t.Run("http", func(t *testing.T) {
		cmd, endpoint := runExample(t, "agent-http", cli, "-id", "shouter", "-capabilities", "echo,shouting", "-ttl", "1h")
		entry := registered(t, cli, "shouter")
		if entry.Endpoint != endpoint || len(entry.Capabilities) != 2 {
			t.Errorf("registered %+v; want endpoint %s and two capabilities", entry, endpoint)
		}
		c, err := protocol.Dial(endpoint)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		res, err := c.Execute(ctx, protocol.Task{ID: "t1", Description: "hello", Data: []byte("world")})
		if err != nil || string(res.Result) != "HELLO WORLD" || res.Confidence != 0.9 || res.TaskID != "t1" {
			t.Errorf("Execute = %+v, %v", res, err)
		}
		if _, err := c.Execute(ctx, protocol.Task{Description: ""}); !errors.Is(err, protocol.ErrInvalid) {
			t.Errorf("an empty task: %v; want ErrInvalid", err)
		}
		// SIGTERM deregisters at once: with a lease of an hour, only the
		// revoke explains the key going.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		gone(t, cli, "shouter")
	})

	t.Run("grpc", func(t *testing.T) {
		_, endpoint := runExample(t, "agent-grpc", cli, "-id", "counter", "-pace", "20ms")
		registered(t, cli, "counter")
		c, err := protocol.Dial(endpoint)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()

		// Output streams while the task runs.
		chunks := make(chan string, 100)
		streamDone := make(chan error, 1)
		go func() {
			streamDone <- c.StreamOutput(ctx, "count-1", func(b []byte) { chunks <- string(b) })
		}()
		res, err := c.Execute(ctx, protocol.Task{ID: "count-1", Description: "one two three four"})
		if err != nil || string(res.Result) != "4" {
			t.Fatalf("Execute = %+v, %v", res, err)
		}
		if err := <-streamDone; err != nil {
			t.Fatalf("StreamOutput: %v", err)
		}
		close(chunks)
		var streamed strings.Builder
		for c := range chunks {
			streamed.WriteString(c)
		}
		if streamed.String() != "1:one\n2:two\n3:three\n4:four\n" {
			t.Errorf("streamed %q", streamed.String())
		}

		// A task slower than its timeout is cut off and says so.
		_, err = c.Execute(ctx, protocol.Task{Description: strings.Repeat("word ", 500), Timeout: 100 * time.Millisecond})
		if !errors.Is(err, protocol.ErrTimeout) {
			t.Errorf("a task over its timeout: %v; want ErrTimeout", err)
		}
	})
}
