package agents

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestResourcesTimeout(t *testing.T) {
	tests := []struct {
		json string
		want time.Duration
		ok   bool
	}{
		{`"30m"`, 30 * time.Minute, true},
		{`90`, 90 * time.Second, true},
		{`0.5`, 500 * time.Millisecond, true},
		{`"8760h"`, MaxTimeout, true},
		{`31536000`, MaxTimeout, true},
		{`"1\u0073"`, time.Second, true}, // a JSON escape is still "1s"
		{`null`, 0, true},
		{`1e300`, 0, false}, // overflowed to a negative duration once
		{`31536001`, 0, false},
		{`"8761h"`, 0, false},
		{`"9999999999h"`, 0, false},
		{`-1`, 0, false},
		{`"-1s"`, 0, false},
		{`"NaN"`, 0, false},
		{`"soon"`, 0, false},
		{`true`, 0, false},
		{`[1]`, 0, false},
	}
	for _, tt := range tests {
		var req SpawnRequest
		err := json.Unmarshal([]byte(`{"type":"custom","command":["true"],"resources":{"timeout":`+tt.json+`}}`), &req)
		if err == nil {
			err = req.validate(nil)
		}
		if tt.ok {
			if err != nil || time.Duration(req.Resources.Timeout) != tt.want {
				t.Errorf("timeout %s: %v, %v; want %v", tt.json, time.Duration(req.Resources.Timeout), err, tt.want)
			}
			continue
		}
		var ie *InputError
		if !errors.As(err, &ie) || ie.Field != "resources.timeout" || !strings.Contains(ie.Msg, "8760h") {
			t.Errorf("timeout %s: %v; want an InputError on resources.timeout giving the range", tt.json, err)
		}
	}
}

// A request built in Go skips UnmarshalJSON; validate checks it too.
func TestValidateChecksTheTimeoutRange(t *testing.T) {
	for _, d := range []time.Duration{-time.Second, MaxTimeout + 1} {
		req := SpawnRequest{Type: "custom", Command: []string{"true"}, Resources: Resources{Timeout: Duration(d)}}
		var ie *InputError
		if err := req.validate(nil); !errors.As(err, &ie) || ie.Field != "resources.timeout" {
			t.Errorf("timeout %v: %v; want an InputError on resources.timeout", d, err)
		}
	}
}
