package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// The JSON shapes of the HTTP transport; the package doc shows them.

type executeRequest struct {
	TaskID      string          `json:"taskId"`
	Description string          `json:"description"`
	Data        json.RawMessage `json:"data,omitempty"`
	Timeout     int64           `json:"timeout,omitempty"` // milliseconds
}

type executeResponse struct {
	TaskID     string          `json:"taskId"`
	Result     json.RawMessage `json:"result"`
	Confidence float64         `json:"confidence"`
	Reasoning  string          `json:"reasoning"`
}

type healthResponse struct {
	Healthy bool   `json:"healthy"`
	Message string `json:"message"`
}

type errorResponse struct {
	Error string `json:"error"`
}

// errNotText is why bytes can't be carried as JSON.
var errNotText = errors.New("neither JSON nor UTF-8 text; binary data needs the gRPC transport")

// dataToJSON is the JSON value that carries b: b itself if it is a JSON
// object, array, number, true or false, else a string of b's text. Empty b
// is no value at all.
func dataToJSON(b []byte) (json.RawMessage, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if travelsAsIs(b) {
		return b, nil
	}
	if !utf8.Valid(b) {
		return nil, errNotText
	}
	return json.Marshal(string(b))
}

// travelsAsIs reports whether b is a JSON value other than a string or
// null. Those two are sent as strings instead: received, they would give
// their content and nothing, not the bytes sent.
func travelsAsIs(b []byte) bool {
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 || trimmed[0] == '"' || trimmed[0] == 'n' {
		return false
	}
	return json.Valid(trimmed)
}

// dataFromJSON undoes dataToJSON: a string gives its text, null nothing,
// any other value its JSON text as received.
func dataFromJSON(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, nil
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []byte(s), nil
	}
	return raw, nil
}
