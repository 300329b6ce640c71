// Package testengine gives the runtime-docker tests a Docker engine and
// their image, or skips them with a loud message when there is no engine.
// Under CI (CI=true) a missing engine fails them instead: CI starts one
// (test/docker/setup.sh), so its absence there is a broken setup, not a
// reason to pass.
package testengine

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// Image is the test image: FROM scratch with Debian's static busybox. It
// has /bin/sh and the usual tools, and needs no registry to build.
const Image = "parallax/runtime-docker-test:busybox"

// Shell runs a script in Image.
var Shell = []string{"/bin/sh", "-c"}

// Busybox is where Debian's busybox-static package puts the binary.
const Busybox = "/bin/busybox"

//go:embed busybox.Dockerfile
var dockerfile []byte

var engine struct {
	once sync.Once
	cli  *client.Client
	err  error
}

// Client returns a client of a running engine that has Image, or skips the
// test (fails it under CI) saying why there is none.
func Client(t testing.TB) *client.Client {
	t.Helper()
	engine.once.Do(func() { engine.cli, engine.err = connect() })
	if engine.err != nil {
		msg := fmt.Sprintf("\n\n*** NO DOCKER ENGINE FOR THE runtime-docker TESTS ***\n%v\n"+
			"Run `sh test/docker/setup.sh` (make test does) to install and start one.\n", engine.err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "CI=true: a missing engine is a failure here, not a skip.")
		}
		t.Skip(msg)
	}
	return engine.cli
}

func connect() (*client.Client, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pingCtx, pingCancel := context.WithTimeout(ctx, 10*time.Second)
	defer pingCancel()
	if _, err := cli.Ping(pingCtx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return nil, fmt.Errorf("no engine answers at %s: %v", cli.DaemonHost(), err)
	}
	if err := ensureImage(ctx, cli); err != nil {
		return nil, err
	}
	return cli, nil
}

// ensureImage builds Image unless the engine has it.
func ensureImage(ctx context.Context, cli *client.Client) error {
	if _, err := cli.ImageInspect(ctx, Image); err == nil {
		return nil
	}
	bin, err := staticBusybox()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, dockerfile}, {"busybox", 0o755, bin}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	res, err := cli.ImageBuild(ctx, &buf, client.ImageBuildOptions{Tags: []string{Image}, Remove: true, ForceRemove: true})
	if err != nil {
		return fmt.Errorf("build %s: %w", Image, err)
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("build %s: %w", Image, err)
		}
		if m.Error != nil {
			return fmt.Errorf("build %s: %s", Image, m.Error.Message)
		}
	}
	if _, err := cli.ImageInspect(ctx, Image); err != nil {
		return fmt.Errorf("build %s: the image is not there after the build: %w", Image, err)
	}
	return nil
}

// staticBusybox reads the busybox binary, which must be static: the image
// has no libc for a dynamic one.
func staticBusybox() ([]byte, error) {
	f, err := elf.Open(Busybox)
	if err != nil {
		return nil, fmt.Errorf("no %s (%v): install Debian's busybox-static", Busybox, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("%s is dynamically linked: install Debian's busybox-static instead of busybox", Busybox)
		}
	}
	return os.ReadFile(Busybox)
}
