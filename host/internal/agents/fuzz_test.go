package agents

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// FuzzSpawnRequest decodes and validates arbitrary spawn requests: never a
// panic, and every refusal names the field to fix.
func FuzzSpawnRequest(f *testing.F) {
	for _, seed := range []string{
		`{"type":"custom","command":["bash"]}`,
		`{"name":"a","type":"claude","capabilities":["go"],"role":"dev","env":{"A":"b"},"resources":{"cpu":"500m","memory":"1Gi","timeout":"30m"}}`,
		`{"type":"codex","workdir":"/tmp","approval":"ask"}`, `{"type":"custom","command":[""]}`, `{"type":"custom","command":["bash"],"readyPattern":"\\$$"}`,
		`{"type":"gemini","workdir":"~/x","resources":{"timeout":-1}}`, `{"name":"-x"}`,
		`{"type":"custom","command":["bash"],"resources":{"timeout":1e300}}`,
		`{"type":"custom","command":["bash"],"resources":{"timeout":"9999999999h"}}`,
		`{"type":"custom","command":["bash"],"resources":{"timeout":31536000.5}}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var req SpawnRequest
		if json.Unmarshal([]byte(body), &req) != nil {
			return
		}
		err := req.validate([]string{"/tmp"})
		var ie *InputError
		if err != nil && (!errors.As(err, &ie) || ie.Field == "" || ie.Msg == "") {
			t.Fatalf("%s: refused with %v, want an InputError naming the field", body, err)
		}
		if d := time.Duration(req.Resources.Timeout); err == nil && (d < 0 || d > MaxTimeout) {
			t.Fatalf("%s: accepted with timeout %v, outside 0..%v", body, d, MaxTimeout)
		}
	})
}
