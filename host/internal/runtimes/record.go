package runtimes

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"

	"github.com/parallax/parallax/sdk/plugin"
)

// A plugin launched to outlive the host keeps running when the host
// exits or dies. What the next host process needs to reattach to it, and
// to tell whether it is still the plugin it wants, is its record, beside
// its log in <data_dir>/runtimes/<name>:
const (
	recordFile = "plugin.json"
	logFile    = "plugin.log"
)

// record describes the plugin a host launched for a runtime.
type record struct {
	Reattach   plugin.ReattachConfig `json:"reattach"`
	PluginPath string                `json:"plugin_path"`
	// ConfigHash is configHash of what Configure got; "" until Configure
	// succeeded, so that a host that died meanwhile is followed by one
	// that replaces the plugin.
	ConfigHash string `json:"config_hash"`
}

// configHash identifies a runtime's configuration: what Configure gets.
// The data dir is not in it: the record is found in it.
func configHash(hostInstance string, config []byte) string {
	h := sha256.New()
	h.Write([]byte(hostInstance))
	h.Write([]byte{0})
	h.Write(config)
	return hex.EncodeToString(h.Sum(nil))
}

func readRecord(path string) (record, error) {
	var rec record
	b, err := os.ReadFile(path)
	if err != nil {
		return rec, err
	}
	err = json.Unmarshal(b, &rec)
	return rec, err
}

// writeRecord writes rec to path with mode 0600, atomically: a host that
// dies in the middle leaves the old record or the new one.
func writeRecord(path string, rec record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), recordFile+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func removeRecord(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
