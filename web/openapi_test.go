package web_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The OpenAPI document is checked against itself (it parses, every $ref
// resolves) and against the router (every /api/v1 route is documented with
// its method and every documented operation is a route), so that it cannot
// drift from the code.

const oaPrefix = "/api/v1"

var oaMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func oaLoad(t *testing.T) (raw []byte, doc map[string]any) {
	t.Helper()
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	return raw, doc
}

// oaRefs walks v and calls fn with the JSON path and target of every $ref.
func oaRefs(v any, path string, fn func(path, ref string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if k == "$ref" {
				if s, ok := val.(string); ok {
					fn(path, s)
					continue
				}
			}
			oaRefs(val, path+"/"+k, fn)
		}
	case []any:
		for i, val := range x {
			oaRefs(val, path+"/"+strconv.Itoa(i), fn)
		}
	}
}

// oaResolve follows a local JSON pointer (#/a/b) in doc.
func oaResolve(doc map[string]any, ref string) (any, bool) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	var cur any = doc
	for _, part := range strings.Split(ref[2:], "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	t.Parallel()
	_, doc := oaLoad(t)
	version, _ := doc["openapi"].(string)
	if !strings.HasPrefix(version, "3.1") {
		t.Errorf("openapi = %q, want 3.1.x", version)
	}
	servers, _ := doc["servers"].([]any)
	if len(servers) != 1 || servers[0].(map[string]any)["url"] != oaPrefix {
		t.Errorf("servers = %v, want [{url: %s}]", doc["servers"], oaPrefix)
	}
	if _, ok := oaResolve(doc, "#/components/securitySchemes/bearer"); !ok {
		t.Error("no bearer security scheme")
	}
	n := 0
	oaRefs(doc, "#", func(path, ref string) {
		n++
		if !strings.HasPrefix(ref, "#/components/") {
			t.Errorf("%s: $ref %q does not point into components", path, ref)
			return
		}
		if _, ok := oaResolve(doc, ref); !ok {
			t.Errorf("%s: $ref %q does not resolve", path, ref)
		}
	})
	if n == 0 {
		t.Error("no $ref at all")
	}

	// Every operation: a summary, responses, an error schema for each error
	// status, and a security rule that matches the route (only the document
	// itself is public).
	paths, _ := doc["paths"].(map[string]any)
	for path, item := range paths {
		ops, _ := item.(map[string]any)
		for _, method := range oaMethods {
			o, ok := ops[method].(map[string]any)
			if !ok {
				continue
			}
			where := strings.ToUpper(method) + " " + path
			if s, _ := o["summary"].(string); s == "" {
				t.Errorf("%s: no summary", where)
			}
			responses, _ := o["responses"].(map[string]any)
			if len(responses) == 0 {
				t.Errorf("%s: no responses", where)
			}
			hasSuccess := false
			for status, r := range responses {
				if strings.HasPrefix(status, "2") {
					hasSuccess = true
				}
				if status >= "400" {
					if ref, _ := r.(map[string]any)["$ref"].(string); ref != "" {
						if r, ok = oaResolve(doc, ref); !ok {
							continue // reported above
						}
					}
					schema, _ := oaResolve(map[string]any{"r": r}, "#/r/content/application~1json/schema/$ref")
					if schema != "#/components/schemas/Error" {
						t.Errorf("%s: response %s is not the Error schema", where, status)
					}
				}
			}
			if !hasSuccess {
				t.Errorf("%s: no 2xx response", where)
			}
			sec, declared := o["security"].([]any)
			public := path == "/openapi.json" && method == "get"
			switch {
			case public && (!declared || len(sec) != 0):
				t.Errorf("%s: must be public (security: [])", where)
			case !public && declared:
				t.Errorf("%s: must use the document's bearer security", where)
			case !public && responses["401"] == nil:
				t.Errorf("%s: no 401 response", where)
			case !public && method != "get" && responses["403"] == nil:
				t.Errorf("%s: needs the write scope, so 403 must be documented", where)
			}
		}
	}
}

var (
	oaFiberParam    = regexp.MustCompile(`:([A-Za-z0-9_]+)`)
	oaTemplateParam = regexp.MustCompile(`\{([^}]+)\}`)
)

func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	_, doc := oaLoad(t)
	e := newEnv(t, "sqlite")

	routes := map[string]bool{}
	for _, r := range e.srv.App().GetRoutes(true) {
		if r.Method == http.MethodHead || !strings.HasPrefix(r.Path, oaPrefix+"/") {
			continue
		}
		path := oaFiberParam.ReplaceAllString(strings.TrimPrefix(r.Path, oaPrefix), "{$1}")
		routes[r.Method+" "+path] = true
	}
	if len(routes) == 0 {
		t.Fatal("no /api/v1 routes found")
	}

	documented := map[string]bool{}
	paths, _ := doc["paths"].(map[string]any)
	for path, item := range paths {
		ops, _ := item.(map[string]any)
		for _, method := range oaMethods {
			if _, ok := ops[method]; ok {
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
		// Each operation declares the parameters of its path template.
		for _, m := range oaTemplateParam.FindAllStringSubmatch(path, -1) {
			name := m[1]
			for _, method := range oaMethods {
				o, ok := ops[method].(map[string]any)
				if !ok {
					continue
				}
				if !oaDeclaresPathParam(doc, o, name) {
					t.Errorf("%s %s: path parameter %q is not declared", strings.ToUpper(method), path, name)
				}
			}
		}
	}

	for _, k := range oaSortedKeys(routes) {
		if !documented[k] {
			t.Errorf("route %s is not in openapi.json", k)
		}
	}
	for _, k := range oaSortedKeys(documented) {
		if !routes[k] {
			t.Errorf("openapi.json documents %s, which is not a route", k)
		}
	}
}

func oaDeclaresPathParam(doc map[string]any, op map[string]any, name string) bool {
	params, _ := op["parameters"].([]any)
	for _, p := range params {
		m, _ := p.(map[string]any)
		if ref, _ := m["$ref"].(string); ref != "" {
			r, _ := oaResolve(doc, ref)
			m, _ = r.(map[string]any)
		}
		if m["in"] == "path" && m["name"] == name && m["required"] == true {
			return true
		}
	}
	return false
}

func oaSortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestOpenAPIServedWithoutToken(t *testing.T) {
	t.Parallel()
	raw, _ := oaLoad(t)
	e := newEnv(t, "sqlite")
	req := httptest.NewRequest(http.MethodGet, oaPrefix+"/openapi.json", nil)
	resp, err := e.test(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/openapi.json without a token: status %d\n%s", oaPrefix, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if !bytes.Equal([]byte(body), raw) {
		t.Error("the served document differs from web/openapi.json")
	}
	if !json.Valid([]byte(body)) {
		t.Error("the served document is not JSON")
	}
}
