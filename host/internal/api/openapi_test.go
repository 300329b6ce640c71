package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/parallax/parallax/host/internal/adapter"
	"github.com/parallax/parallax/host/internal/agents"
	"github.com/parallax/parallax/host/internal/events"
	"github.com/parallax/parallax/host/internal/runtimes"
	"github.com/parallax/parallax/host/internal/session"
)

// The tests here hold openapi.json to the code: to the router, to the
// handlers and to the Go types the API encodes and decodes, so that the
// document can't drift from what the host does.

// httpMethods are the keys of an OpenAPI path item that are operations.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

type openapiOp struct {
	method, path string // method upper case, as in routes()
	item, op     map[string]any
}

func (o openapiOp) String() string { return o.method + " " + o.path }

func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	return doc
}

// openapiOps lists the document's operations, sorted.
func openapiOps(t *testing.T, doc map[string]any) []openapiOp {
	t.Helper()
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatalf("openapi.json has no paths object")
	}
	var out []openapiOp
	for path, v := range paths {
		item, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("paths[%q] is not an object", path)
		}
		for _, m := range httpMethods {
			if op, ok := item[m].(map[string]any); ok {
				out = append(out, openapiOp{strings.ToUpper(m), path, item, op})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// pointer follows a local reference such as "#/components/schemas/Agent".
func pointer(doc map[string]any, ref string) (any, bool) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	var cur any = doc
	for _, tok := range strings.Split(rest, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// deref follows $refs until v is not one.
func deref(t *testing.T, doc map[string]any, v any) map[string]any {
	t.Helper()
	for range 10 {
		m, _ := v.(map[string]any)
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		if v, ok = pointer(doc, ref); !ok {
			t.Fatalf("$ref %q does not resolve", ref)
		}
	}
	t.Fatalf("$ref chain too long at %v", v)
	return nil
}

// schema returns components/schemas/name.
func schema(t *testing.T, doc map[string]any, name string) map[string]any {
	t.Helper()
	s, ok := pointer(doc, "#/components/schemas/"+name)
	if !ok {
		t.Fatalf("components/schemas has no %s", name)
	}
	return s.(map[string]any)
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func strs(v any) []string {
	var out []string
	for _, x := range asSlice(v) {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

func TestOpenAPIIsJSONVersion31(t *testing.T) {
	doc := loadOpenAPI(t)
	if v, _ := doc["openapi"].(string); !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(v) {
		t.Errorf("openapi is %q, want 3.1.x", doc["openapi"])
	}
	info, _ := doc["info"].(map[string]any)
	for _, k := range []string{"title", "version"} {
		if s, _ := info[k].(string); s == "" {
			t.Errorf("info.%s is missing", k)
		}
	}
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	inRouter := map[string]bool{}
	for _, r := range (&server{}).routes() {
		inRouter[r.method+" "+r.path] = true
	}
	inDoc := map[string]bool{}
	for _, o := range openapiOps(t, doc) {
		inDoc[o.String()] = true
	}
	for _, r := range (&server{}).routes() {
		if k := r.method + " " + r.path; !inDoc[k] {
			t.Errorf("route %s is not in openapi.json: add it under paths", k)
		}
	}
	for _, k := range sorted(keys(toAny(inDoc))) {
		if !inRouter[k] {
			t.Errorf("openapi.json describes %s, which is not a route of routes()", k)
		}
	}
}

func toAny(m map[string]bool) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestOpenAPIOperationsAreComplete(t *testing.T) {
	doc := loadOpenAPI(t)
	code := regexp.MustCompile(`^[1-5][0-9][0-9]$`)
	ids := map[string]string{}
	schemes, _ := pointer(doc, "#/components/securitySchemes")
	for _, o := range openapiOps(t, doc) {
		t.Run(o.String(), func(t *testing.T) {
			id, _ := o.op["operationId"].(string)
			if id == "" {
				t.Errorf("no operationId")
			} else if prev, dup := ids[id]; dup {
				t.Errorf("operationId %q is also %s's", id, prev)
			}
			ids[id] = o.String()
			if s, _ := o.op["summary"].(string); s == "" {
				t.Errorf("no summary")
			}
			responses, _ := o.op["responses"].(map[string]any)
			if len(responses) == 0 {
				t.Fatalf("no responses")
			}
			for c := range responses {
				if !code.MatchString(c) {
					t.Errorf("response %q is not a status code", c)
				}
			}
			// Every route is behind the token check.
			if _, ok := responses["401"]; !ok {
				t.Errorf("no 401 response")
			}
			// A JSON body is refused with 400, and one over maxBody with 413.
			if o.op["requestBody"] != nil {
				for _, c := range []string{"400", "413"} {
					if _, ok := responses[c]; !ok {
						t.Errorf("takes a body but has no %s response", c)
					}
				}
			}
			sec := asSlice(doc["security"])
			if s, ok := o.op["security"]; ok {
				sec = asSlice(s)
			}
			if len(sec) == 0 {
				t.Errorf("no security requirement")
			}
			for _, req := range sec {
				for name := range req.(map[string]any) {
					if _, ok := schemes.(map[string]any)[name]; !ok {
						t.Errorf("security names %q, which is not in components/securitySchemes", name)
					}
				}
			}
		})
	}
}

func TestOpenAPIRefsResolve(t *testing.T) {
	doc := loadOpenAPI(t)
	used := map[string]bool{}
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if !strings.HasPrefix(ref, "#/components/") {
					t.Errorf("%s: $ref %q is not to a component", at, ref)
				} else if _, ok := pointer(doc, ref); !ok {
					t.Errorf("%s: $ref %q does not resolve", at, ref)
				}
				used[ref] = true
			}
			for k, x := range v {
				walk(at+"/"+k, x)
			}
		case []any:
			for i, x := range v {
				walk(at+"/"+strconv.Itoa(i), x)
			}
		}
	}
	walk("#", doc)
	// And no component is left unused, so none describes something gone.
	components, _ := doc["components"].(map[string]any)
	for _, kind := range []string{"schemas", "parameters", "responses"} {
		m, _ := components[kind].(map[string]any)
		for _, name := range keys(m) {
			if ref := "#/components/" + kind + "/" + name; !used[ref] {
				t.Errorf("%s is never referred to", ref)
			}
		}
	}
}

func TestOpenAPIDeclaresPathParameters(t *testing.T) {
	doc := loadOpenAPI(t)
	tmpl := regexp.MustCompile(`\{([^}]+)\}`)
	for _, o := range openapiOps(t, doc) {
		declared := map[string]bool{}
		params := append(slices.Clone(asSlice(o.item["parameters"])), asSlice(o.op["parameters"])...)
		for _, p := range params {
			p := deref(t, doc, p)
			if p["in"] != "path" {
				continue
			}
			name, _ := p["name"].(string)
			declared[name] = true
			if p["required"] != true {
				t.Errorf("%s: path parameter %q is not required: true", o, name)
			}
		}
		inPath := map[string]bool{}
		for _, m := range tmpl.FindAllStringSubmatch(o.path, -1) {
			inPath[m[1]] = true
			if !declared[m[1]] {
				t.Errorf("%s: path parameter {%s} is not declared", o, m[1])
			}
		}
		for name := range declared {
			if !inPath[name] {
				t.Errorf("%s: declares path parameter %q, which is not in the path", o, name)
			}
		}
	}
}

func TestOpenAPIIsServed(t *testing.T) {
	h := Handler(Options{Hosts: testHosts, Agents: stubAgents{}, Runtimes: stubRuntimes{}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/openapi.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/openapi.json: status %d, want 200", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if !bytes.Equal(rec.Body.Bytes(), openapiDoc) {
		t.Errorf("the body is not openapi.json")
	}
	if !json.Valid(rec.Body.Bytes()) {
		t.Errorf("the body is not valid JSON")
	}
}

// jsonFields lists the JSON field names of struct type typ, and those
// without omitempty, which every encoding of it has.
func jsonFields(typ reflect.Type) (all, always []string) {
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" && opts == "" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		all = append(all, name)
		if !slices.Contains(strings.Split(opts, ","), "omitempty") {
			always = append(always, name)
		}
	}
	return sorted(all), sorted(always)
}

func TestOpenAPISchemasMatchTheGoTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	tests := []struct {
		schema string
		value  any
		// response: the server encodes it, so the fields without omitempty
		// are exactly the required ones. Otherwise the server decodes it,
		// rejecting unknown fields, so the schema must too.
		response bool
	}{
		{"Agent", agents.View{}, true},
		{"Exit", agents.Exit{}, true},
		{"Pending", session.Prompt{}, true},
		{"Metrics", agents.Metrics{}, true},
		{"RuntimeStatus", runtimes.Status{}, true},
		{"RuntimeCapabilities", runtimes.Capabilities{}, true},
		{"Message", session.Message{}, true},
		{"TranscriptEntry", agents.Message{}, true},
		{"Event", events.Event{}, true},
		{"Error", errorBody{}, true},
		{"SpawnRequest", agents.SpawnRequest{}, false},
		{"Resources", agents.Resources{}, false},
		{"Credentials", adapter.Credentials{}, false},
		{"SendRequest", sendRequest{}, false},
		{"AnswerRequest", answerRequest{}, false},
		{"TerminalResize", resizeMsg{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.schema, func(t *testing.T) {
			s := schema(t, doc, tt.schema)
			all, always := jsonFields(reflect.TypeOf(tt.value))
			props, _ := s["properties"].(map[string]any)
			if got := keys(props); !slices.Equal(got, all) {
				t.Errorf("properties %q, want the JSON fields of %T: %q", got, tt.value, all)
			}
			if tt.response {
				if got := sorted(strs(s["required"])); !slices.Equal(got, always) {
					t.Errorf("required %q, want the fields of %T without omitempty: %q", got, tt.value, always)
				}
			} else if tt.schema != "TerminalResize" && s["additionalProperties"] != false {
				t.Errorf("additionalProperties is not false, but the server rejects unknown fields of %T", tt.value)
			}
		})
	}
}

func TestOpenAPIEnumsMatchTheCode(t *testing.T) {
	doc := loadOpenAPI(t)
	if got, want := sorted(strs(schema(t, doc, "AgentType")["enum"])), adapter.Types(); !slices.Equal(got, want) {
		t.Errorf("AgentType enum %q, want adapter.Types() %q", got, want)
	}
	statuses := []session.Status{session.StatusStarting, session.StatusReady, session.StatusBusy, session.StatusError, session.StatusStopped}
	var want []string
	for _, s := range statuses {
		want = append(want, string(s))
	}
	if got := strs(schema(t, doc, "AgentStatus")["enum"]); !slices.Equal(sorted(got), sorted(want)) {
		t.Errorf("AgentStatus enum %q, want %q", got, want)
	}
	// The Event enum: TestOpenAPIDocumentsEveryEvent.
	pendingProps := schema(t, doc, "Pending")["properties"].(map[string]any)
	kinds := strs(pendingProps["type"].(map[string]any)["enum"])
	for _, k := range []string{string(events.Question), string(events.LoginRequired)} {
		if !slices.Contains(kinds, k) {
			t.Errorf("Pending type enum lacks %q", k)
		}
	}
}

func TestOpenAPIHealthSchemaMatchesTheHandler(t *testing.T) {
	doc := loadOpenAPI(t)
	rec := httptest.NewRecorder()
	Handler(Options{Hosts: testHosts, Agents: stubAgents{}, Runtimes: stubRuntimes{{Name: "local", Healthy: true}}}).
		ServeHTTP(rec, httptest.NewRequest("GET", "/api/health", nil))
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("health: %v", err)
	}
	s := schema(t, doc, "Health")
	props, _ := s["properties"].(map[string]any)
	if got, want := keys(props), keys(body); !slices.Equal(got, want) {
		t.Errorf("Health properties %q, want the handler's fields %q", got, want)
	}
	if got, want := sorted(strs(s["required"])), keys(body); !slices.Equal(got, want) {
		t.Errorf("Health required %q, want every field the handler always sends %q", got, want)
	}
}

// example builds a value that fits schema s: its first example, const,
// default or enum value, or else one of its type, objects with every
// property.
func example(t *testing.T, doc map[string]any, s any) any {
	t.Helper()
	m := deref(t, doc, s)
	if ex := asSlice(m["examples"]); len(ex) > 0 {
		return ex[0]
	}
	for _, k := range []string{"const", "default"} {
		if v, ok := m[k]; ok {
			return v
		}
	}
	if e := asSlice(m["enum"]); len(e) > 0 {
		return e[0]
	}
	for _, k := range []string{"oneOf", "anyOf"} {
		if alts := asSlice(m[k]); len(alts) > 0 {
			return example(t, doc, alts[0])
		}
	}
	typ := m["type"]
	if alts := asSlice(typ); len(alts) > 0 {
		typ = alts[0]
	}
	switch typ {
	case "object":
		out := map[string]any{}
		props, _ := m["properties"].(map[string]any)
		for k, p := range props {
			out[k] = example(t, doc, p)
		}
		return out
	case "array":
		return []any{example(t, doc, m["items"])}
	case "string":
		return "x"
	case "integer", "number":
		return 1
	case "boolean":
		return true
	}
	t.Fatalf("no example for schema %v", m)
	return nil
}

// TestOpenAPIRequestBodiesMatchTheHandlers sends each operation's JSON
// body, every documented field set, to its handler: the handler must take
// every field, and refuse one that the document doesn't have.
func TestOpenAPIRequestBodiesMatchTheHandlers(t *testing.T) {
	doc := loadOpenAPI(t)
	n := 0
	for _, o := range openapiOps(t, doc) {
		rb := deref(t, doc, o.op["requestBody"])
		if rb == nil {
			continue
		}
		content, _ := rb["content"].(map[string]any)
		media, _ := content["application/json"].(map[string]any)
		if media == nil {
			t.Errorf("%s: request body is not application/json", o)
			continue
		}
		n++
		t.Run(o.String(), func(t *testing.T) {
			body, ok := example(t, doc, media["schema"]).(map[string]any)
			if !ok {
				t.Fatalf("the body schema is not an object")
			}
			path := strings.ReplaceAll(o.path, "{id}", "x")
			post := func(body map[string]any) (int, errorBody) {
				b, _ := json.Marshal(body)
				rec := httptest.NewRecorder()
				Handler(Options{Hosts: testHosts, Agents: stubAgents{}, Runtimes: stubRuntimes{}}).
					ServeHTTP(rec, httptest.NewRequest(o.method, path, bytes.NewReader(b)))
				var e errorBody
				_ = json.Unmarshal(rec.Body.Bytes(), &e)
				return rec.Code, e
			}
			code, e := post(body)
			for _, refusal := range []string{"unknown field", "got JSON", "not valid"} {
				if code == http.StatusBadRequest && strings.Contains(e.Error, refusal) {
					t.Errorf("the documented body %v is refused: %d %+v", body, code, e)
				}
			}
			body["zzUndocumented"] = true
			if code, e := post(body); code != http.StatusBadRequest || e.Field != "zzUndocumented" {
				t.Errorf("an undocumented field: %d %+v, want 400 naming the field", code, e)
			}
		})
	}
	if n == 0 {
		t.Errorf("no operation has a JSON request body")
	}
}
