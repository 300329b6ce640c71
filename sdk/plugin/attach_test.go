package plugin_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/parallax/parallax/sdk/plugin"
	"github.com/parallax/parallax/sdk/runtime"
)

// startAttached starts agent id on a TestClient of impl and attaches to it.
func startAttached(t *testing.T, c *plugin.Client, impl *basicRuntime, id string) (io.ReadWriteCloser, *fakeAgent) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.Start(ctx, testSpec(id)); err != nil {
		t.Fatal(err)
	}
	conn, err := c.Attach(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	a, err := impl.agent(id)
	if err != nil {
		t.Fatal(err)
	}
	return conn, a
}

// readWithin reads once from r, failing the test after d.
func readWithin(t *testing.T, r io.Reader, d time.Duration) ([]byte, error) {
	t.Helper()
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		buf := make([]byte, 1024)
		n, err := r.Read(buf)
		done <- result{buf[:n], err}
	}()
	select {
	case r := <-done:
		return r.data, r.err
	case <-time.After(d):
		t.Fatalf("no read within %v", d)
		return nil, nil
	}
}

func TestAttachCarriesBytesBothWays(t *testing.T) {
	impl := newFullRuntime()
	c := plugin.TestClient(t, impl)
	conn, agent := startAttached(t, c, impl.basicRuntime, "a1")

	// Output is streamed as it comes: one small write arrives on its own,
	// while the agent's output is still open.
	go func() { _, _ = agent.output.Write([]byte("hello")) }()
	got, err := readWithin(t, conn, 2*time.Second)
	if err != nil || string(got) != "hello" {
		t.Fatalf("Read = %q, %v; want hello", got, err)
	}

	if _, err := conn.Write([]byte("ls\r")); err != nil {
		t.Fatal(err)
	}
	select {
	case in := <-agent.conn.input:
		if string(in) != "ls\r" {
			t.Errorf("agent got input %q", in)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("input didn't reach the agent")
	}

	resizable, ok := conn.(plugin.Resizable)
	if !ok {
		t.Fatalf("%T doesn't implement plugin.Resizable", conn)
	}
	if err := resizable.Resize(runtime.Size{Cols: 200, Rows: 50}); err != nil {
		t.Fatal(err)
	}
	select {
	case size := <-impl.resized:
		if size != (runtime.Size{Cols: 200, Rows: 50}) {
			t.Errorf("runtime resized to %+v", size)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("resize frame didn't reach the Resizer")
	}

	// The end of the agent's output is io.EOF, after the last bytes.
	go func() {
		_, _ = agent.output.Write([]byte("bye"))
		_ = agent.output.Close()
	}()
	rest, err := io.ReadAll(conn)
	if err != nil || string(rest) != "bye" {
		t.Errorf("ReadAll = %q, %v; want bye", rest, err)
	}
	if _, err := conn.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("Read after the end = %v, want io.EOF", err)
	}
}

func TestAttachUnknownAgentIsNotFound(t *testing.T) {
	c := plugin.TestClient(t, newBasicRuntime())
	_, err := c.Attach(context.Background(), "nobody")
	if !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
}

func TestAttachResizeWithoutResizerKeepsStreamOpen(t *testing.T) {
	impl := newBasicRuntime()
	conn, agent := startAttached(t, plugin.TestClient(t, impl), impl, "a1")

	if err := conn.(plugin.Resizable).Resize(runtime.Size{Cols: 1, Rows: 1}); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = agent.output.Write([]byte("still here")) }()
	got, err := readWithin(t, conn, 2*time.Second)
	if err != nil || string(got) != "still here" {
		t.Errorf("Read = %q, %v", got, err)
	}
}

func TestSlowReaderBlocksOnlyItsOwnStream(t *testing.T) {
	impl := newBasicRuntime()
	c := plugin.TestClient(t, impl)
	_, flooding := startAttached(t, c, impl, "flood")
	quiet, quietAgent := startAttached(t, c, impl, "quiet")

	// Nobody reads "flood": its output backs up to the agent.
	go func() {
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for range 128 {
			if _, err := flooding.output.Write(chunk); err != nil {
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)

	go func() { _, _ = quietAgent.output.Write([]byte("ping")) }()
	got, err := readWithin(t, quiet, 2*time.Second)
	if err != nil || string(got) != "ping" {
		t.Errorf("Read = %q, %v", got, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := c.Inspect(ctx, "quiet"); err != nil {
		t.Errorf("Inspect while another stream is stuck: %v", err)
	}
}

func TestCloseDetaches(t *testing.T) {
	impl := newBasicRuntime()
	conn, _ := startAttached(t, plugin.TestClient(t, impl), impl, "a1")
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded")
	}
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Error("Read after Close succeeded")
	}
}

func TestAttachReadAfterKillIsUnavailable(t *testing.T) {
	impl := newBasicRuntime()
	c := plugin.TestClient(t, impl)
	conn, _ := startAttached(t, c, impl, "a1")
	c.Kill()
	_, err := readWithin(t, conn, 5*time.Second)
	if !plugin.IsUnavailable(err) {
		t.Errorf("IsUnavailable(%v) = false", err)
	}
}
