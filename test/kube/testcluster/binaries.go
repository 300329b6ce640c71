package testcluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// binaries are where setup.sh left what the cluster runs.
type binaries struct {
	apiserver, scheduler, kwok string
	// kwokStages is the kustomize folder of the stages kwok plays nodes
	// and pods by; its binary ships none.
	kwokStages string
}

var setup struct {
	once sync.Once
	bins binaries
	err  error
}

// findBinaries runs test/kube/setup.sh once per test process, or skips the
// test (fails it under CI) saying why there are no binaries.
func findBinaries(t testing.TB) binaries {
	t.Helper()
	setup.once.Do(func() { setup.bins, setup.err = runSetup() })
	if setup.err != nil {
		msg := fmt.Sprintf("\n\n*** NO KUBERNETES BINARIES FOR THE runtime-kubernetes TESTS ***\n%v\n"+
			"Run `make kube-tools` (sh test/kube/setup.sh) to build them; a cold build takes about 10 minutes.\n", setup.err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "CI=true: missing binaries are a failure here, not a skip.")
		}
		t.Skip(msg)
	}
	return setup.bins
}

func runSetup() (binaries, error) {
	root, err := repoRoot()
	if err != nil {
		return binaries{}, err
	}
	script := filepath.Join(root, "test", "kube", "setup.sh")
	var out, progress bytes.Buffer
	cmd := exec.Command("sh", script)
	cmd.Stdout = &out
	// A cold build runs for many minutes; its progress shows on the
	// terminal of whoever runs go test on one package. It is kept too, to
	// say in the skip message why the script failed.
	cmd.Stderr = io.MultiWriter(os.Stderr, &progress)
	if err := cmd.Run(); err != nil {
		return binaries{}, fmt.Errorf("sh %s: %v; it said:\n%s", script, err, lastLines(progress.String(), 10))
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	bin := strings.TrimSpace(lines[len(lines)-1])
	if bin == "" {
		return binaries{}, fmt.Errorf("sh %s printed no folder", script)
	}
	b := binaries{
		apiserver:  filepath.Join(bin, "kube-apiserver"),
		scheduler:  filepath.Join(bin, "kube-scheduler"),
		kwok:       filepath.Join(bin, "kwok"),
		kwokStages: filepath.Join(filepath.Dir(bin), "kwok-stages", "fast"),
	}
	for _, p := range []string{b.apiserver, b.scheduler, b.kwok, filepath.Join(b.kwokStages, "kustomization.yaml")} {
		if _, err := os.Stat(p); err != nil {
			return binaries{}, fmt.Errorf("sh %s printed %s, but: %v", script, bin, err)
		}
	}
	return b, nil
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// repoRoot walks up from the working directory, which go test sets to the
// package's folder, to the folder holding go.work.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work above the working directory: not inside the parallax repository")
		}
		dir = parent
	}
}
