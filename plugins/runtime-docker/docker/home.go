package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/moby/client"

	"github.com/parallax/parallax/sdk/runtime/hometar"
)

// agentHome is where an agent finds the copy of its Spec.Home. The agent
// images make it the home of their user "agent".
const agentHome = "/home/agent"

// checkHome validates Spec.Home: a directory on this machine, as the
// engine is local (the plugin copies it, so a remote engine works too).
func checkHome(dir string) error {
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("home %q is not an absolute path", dir)
	}
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("home: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("home %q is not a directory", dir)
	}
	return nil
}

// copyHome copies dir into the container's agentHome, owned by the user
// the agent runs as: the config's user, else the image's. The engine could
// set the owner itself (CopyUIDGID), but it looks names up in the host's
// passwd database, not the container's (moby/moby#34142); so names are
// read from the container's own /etc/passwd and /etc/group here.
func copyHome(ctx context.Context, cli *client.Client, containerID, user, image, dir string) error {
	if user == "" {
		img, err := cli.ImageInspect(ctx, image)
		if err != nil {
			return fmt.Errorf("inspect image %s for its user: %w", image, err)
		}
		if img.Config != nil {
			user = img.Config.User
		}
	}
	uid, gid, err := resolveUser(user, func(path string) ([]byte, error) { return readFile(ctx, cli, containerID, path) })
	if err != nil {
		return fmt.Errorf("the agent's home: user %q: %w", user, err)
	}
	home, err := hometar.Pack(dir, hometar.Options{Prefix: agentHome, UID: uid, GID: gid})
	if err != nil {
		return err
	}
	opts := client.CopyToContainerOptions{DestinationPath: "/", Content: bytes.NewReader(home)}
	if _, err := cli.CopyToContainer(ctx, containerID, opts); err != nil {
		return fmt.Errorf("copy the agent's home into its container %s: %w", shortID(containerID), err)
	}
	return nil
}

// readFile reads one file out of a container, created or running.
func readFile(ctx context.Context, cli *client.Client, containerID, path string) ([]byte, error) {
	res, err := cli.CopyFromContainer(ctx, containerID, client.CopyFromContainerOptions{SourcePath: path})
	if err != nil {
		return nil, err
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	if _, err := tr.Next(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return io.ReadAll(io.LimitReader(tr, 1<<20))
}

// resolveUser turns a container user, "", "user" or "user:group", each by
// name or number, into ids, as the engine does when it starts the
// container: a user without a group gets its primary group from passwd,
// or 0 if passwd doesn't list it.
func resolveUser(user string, read func(path string) ([]byte, error)) (uid, gid int, err error) {
	if user == "" {
		return 0, 0, nil
	}
	name, group, hasGroup := strings.Cut(user, ":")
	users, err := idFile(read, "/etc/passwd", name)
	if err != nil {
		return 0, 0, err
	}
	u, ok := users.find(name)
	if !ok {
		return 0, 0, fmt.Errorf("%s is not in the image's /etc/passwd: give a user it has, or a number", name)
	}
	if !hasGroup {
		return u.id, max(u.group, 0), nil
	}
	groups, err := idFile(read, "/etc/group", group)
	if err != nil {
		return 0, 0, err
	}
	g, ok := groups.find(group)
	if !ok {
		return 0, 0, fmt.Errorf("group %s is not in the image's /etc/group: give a group it has, or a number", group)
	}
	return u.id, g.id, nil
}

// idEntry is a line of /etc/passwd or /etc/group: a name, its id and, in
// passwd, its primary group (-1 where unknown).
type idEntry struct {
	name      string
	id, group int
}

type idEntries []idEntry

// idFile reads and parses path, which is needed to look key up unless key
// is a number; then a missing file is no error.
func idFile(read func(path string) ([]byte, error), path, key string) (idEntries, error) {
	b, err := read(path)
	if err != nil {
		if _, numeric := atoi(key); numeric {
			return nil, nil
		}
		return nil, fmt.Errorf("no %s in the image to look %s up in: %w", path, key, err)
	}
	var out idEntries
	for line := range strings.Lines(string(b)) {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) < 3 {
			continue
		}
		e := idEntry{name: f[0], group: -1}
		var ok bool
		if e.id, ok = atoi(f[2]); !ok {
			continue
		}
		if len(f) > 3 {
			if g, ok := atoi(f[3]); ok {
				e.group = g
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// find looks key up by name, then as a number, which need not be listed.
func (es idEntries) find(key string) (idEntry, bool) {
	for _, e := range es {
		if e.name == key {
			return e, true
		}
	}
	id, ok := atoi(key)
	if !ok {
		return idEntry{}, false
	}
	for _, e := range es {
		if e.id == id {
			return e, true
		}
	}
	return idEntry{id: id, group: -1}, true
}

func atoi(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}
