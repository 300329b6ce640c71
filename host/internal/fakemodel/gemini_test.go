package fakemodel

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func postGemini(t *testing.T, g *Gemini, path, body string) *http.Response {
	t.Helper()
	resp, err := http.Post(g.URL()+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// textOfResponse is the text of a GenerateContentResponse and its finish
// reason.
func textOfResponse(t *testing.T, b []byte) (string, string) {
	t.Helper()
	var r struct {
		Candidates []struct {
			Content struct {
				Parts []struct{ Text string }
			}
			FinishReason string
		}
	}
	if err := json.Unmarshal(b, &r); err != nil || len(r.Candidates) != 1 || len(r.Candidates[0].Content.Parts) != 1 {
		t.Fatalf("not a GenerateContentResponse with one part: %s (%v)", b, err)
	}
	return r.Candidates[0].Content.Parts[0].Text, r.Candidates[0].FinishReason
}

func TestGeminiStreamsTheReply(t *testing.T) {
	g := NewGemini()
	t.Cleanup(g.Close)
	resp := postGemini(t, g, "/v1beta/models/gemini-3.5-flash:streamGenerateContent?alt=sse",
		`{"contents":[{"role":"user","parts":[{"text":"ctx"},{"text":"say hello"}]}]}`)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var text, finish string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(strings.TrimRight(sc.Text(), "\r"), "data: "); ok {
			part, f := textOfResponse(t, []byte(line))
			text, finish = text+part, f
		}
	}
	if text != DefaultReply || finish != "STOP" {
		t.Errorf("streamed %q ending %q, want %q ending STOP", text, finish, DefaultReply)
	}
	if turns := g.Turns(); len(turns) != 1 || !turns[0].Stream || turns[0].UserText != "say hello" {
		t.Errorf("turns %+v, want one streamed turn of \"say hello\"", turns)
	}
}

// A JSON call (the model router, the next-speaker check) gets a value of
// its schema, and is no turn.
func TestGeminiAnswersJSONCallsByTheirSchema(t *testing.T) {
	g := NewGemini()
	t.Cleanup(g.Close)
	tests := []struct {
		name, config, want string
	}{
		{"router, JSON schema", `"responseJsonSchema":{"type":"object","properties":{"reasoning":{"type":"string"},"model_choice":{"type":"string","enum":["flash","pro"]}}}`,
			`{"model_choice":"flash","reasoning":"fake"}`},
		{"API schema", `"responseSchema":{"type":"OBJECT","properties":{"next_speaker":{"type":"STRING","enum":["user","model"]},"score":{"type":"INTEGER"},"ok":{"type":"BOOLEAN"},"list":{"type":"ARRAY"}}}`,
			`{"list":[],"next_speaker":"user","ok":false,"score":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := postGemini(t, g, "/v1beta/models/gemini-3.5-flash-lite:generateContent",
				`{"contents":[{"role":"user","parts":[{"text":"route"}]}],"generationConfig":{"responseMimeType":"application/json",`+tt.config+`}}`)
			var b json.RawMessage
			if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
				t.Fatal(err)
			}
			if got, _ := textOfResponse(t, b); got != tt.want {
				t.Errorf("JSON %s, want %s", got, tt.want)
			}
		})
	}
	if n := g.TurnCount(); n != 0 {
		t.Errorf("%d turns, want none", n)
	}
}

func TestGeminiErrorsAndUnknownPaths(t *testing.T) {
	g := NewGemini(WithError(http.StatusBadRequest, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."))
	t.Cleanup(g.Close)
	tests := []struct {
		path string
		want int
	}{
		{"/v1beta/models/m:streamGenerateContent?alt=sse", http.StatusBadRequest},
		{"/v1beta/models/m:generateContent", http.StatusBadRequest},
		{"/v1beta/models/m:countTokens", http.StatusOK},
		{"/v1beta/models/m:embedContent", http.StatusNotFound},
		{"/v1/other", http.StatusNotFound},
	}
	for _, tt := range tests {
		if resp := postGemini(t, g, tt.path, `{"contents":[]}`); resp.StatusCode != tt.want {
			t.Errorf("%s: status %d, want %d", tt.path, resp.StatusCode, tt.want)
		}
	}
}
