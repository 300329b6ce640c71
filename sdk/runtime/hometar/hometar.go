// Package hometar packs an agent's Spec.Home as a tar, for runtimes whose
// agents have a filesystem of their own (Info.AgentPaths.Home). A copy,
// not a mount: the files then belong to the agent's user, whoever owns
// them on the host's machine, and the agent's writes stay its own.
package hometar

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// Options say where the tar unpacks and whose its files are.
type Options struct {
	// Prefix is the path the entries go under, like "home/agent" for a tar
	// unpacked at "/"; the tar then makes that directory too, owned like
	// the rest. Empty means entries relative to the directory the tar is
	// unpacked in, which exists and keeps its owner and mode.
	Prefix string
	// UID and GID own every entry, whatever owns the files here.
	UID, GID int
}

// Pack packs the regular files and directories under dir, an absolute
// path, with their modes. Anything else, such as a symlink, is left out:
// the host writes only files and directories there, and a link could
// lead the copy out of dir.
func Pack(dir string, opts Options) ([]byte, error) {
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("home %q is not an absolute path", dir)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	prefix := path.Clean("/" + opts.Prefix)[1:]
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() && !d.IsDir() || p == dir && prefix == "" {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = path.Join(prefix, filepath.ToSlash(rel))
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = opts.UID, opts.GID, "", ""
		if d.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil {
			_, err = tw.Write(b)
		}
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("pack the agent's home %s: %w", dir, err)
	}
	return buf.Bytes(), nil
}
