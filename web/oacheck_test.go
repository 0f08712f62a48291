package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Every answer the tests get from the JSON API is checked against the
// OpenAPI document: the operation (path and method) and the status must be
// documented, the headers and the body must match the documented response,
// and every property of a JSON body must be declared by its schema. The
// request helpers of the web tests (env.api, env.test, client.do, gtDo) all
// call oaCheck, so a drift between the document and the server fails the
// test that meets it. A request the server accepted must be one the
// document allows, too.

var oaSpec struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

// oaRouter loads web/openapi.json once, validates it and builds its router.
func oaRouter(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	oaSpec.once.Do(func() {
		raw, err := os.ReadFile("openapi.json")
		if err != nil {
			oaSpec.err = err
			return
		}
		doc, err := openapi3.NewLoader().LoadFromData(raw)
		if err != nil {
			oaSpec.err = fmt.Errorf("load: %w", err)
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			oaSpec.err = fmt.Errorf("validate: %w", err)
			return
		}
		router, err := gorillamux.NewRouter(doc)
		if err != nil {
			oaSpec.err = fmt.Errorf("router: %w", err)
			return
		}
		oaSpec.doc, oaSpec.router = doc, router
	})
	if oaSpec.err != nil {
		t.Fatalf("openapi.json: %v", oaSpec.err)
	}
	return oaSpec.doc, oaSpec.router
}

// oaIsAPI reports whether a request path is one of the JSON API's.
func oaIsAPI(path string) bool {
	return path == oaPrefix || strings.HasPrefix(path, oaPrefix+"/")
}

// oaCheck validates resp, the server's answer to req, against the OpenAPI
// document when req is for the JSON API; anything else passes untouched.
// When the call succeeded and reqBody is not nil (see oaRequestBody), the
// request is validated too: the server accepted it, so the document must.
// The answer's body is read and put back for the caller. A failure is
// reported with t.Errorf, so goroutines may call it.
func oaCheck(t testing.TB, req *http.Request, reqBody []byte, resp *http.Response) {
	t.Helper()
	if !oaIsAPI(req.URL.Path) {
		return
	}
	body := oaBuffer(t, resp)
	_, router := oaRouter(t)
	route, params, err := router.FindRoute(oaRouteRequest(req))
	if err != nil {
		t.Errorf("%s %s answered %d, but the OpenAPI document has no such operation (%v)\n%s",
			req.Method, req.URL.Path, resp.StatusCode, err, oaShort(body))
		return
	}
	if err := oaValidate(req, route, params, resp, body); err != nil {
		t.Errorf("%s %s: the answer does not match the OpenAPI document: %s\n%d %s\n%s",
			req.Method, req.URL.Path, oaErrText(err), resp.StatusCode, resp.Header.Get("Content-Type"), oaShort(body))
	}
	if reqBody != nil && resp.StatusCode < 300 && req.Method != http.MethodHead {
		r := oaRouteRequest(req)
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(reqBody)), int64(len(reqBody))
		in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("%s %s answered %d to a request the OpenAPI document does not allow: %s\n%s",
				req.Method, req.URL, resp.StatusCode, oaErrText(err), oaShort(reqBody))
		}
	}
}

// oaRequestBody reads the body of an API request and puts it back, for
// oaCheck; a request without a body gives an empty, not a nil, slice, and
// one outside the API nil.
func oaRequestBody(t testing.TB, req *http.Request) []byte {
	t.Helper()
	if !oaIsAPI(req.URL.Path) {
		return nil
	}
	if req.Body == nil || req.Body == http.NoBody {
		return []byte{}
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		t.Errorf("read the request body: %v", err)
		return nil
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

// oaCheckUndocumented is oaCheck for a request that is meant to miss every
// documented operation (an unknown path or method): it fails unless the
// document indeed has no operation for it and the answer is the API's error
// body.
func oaCheckUndocumented(t testing.TB, req *http.Request, resp *http.Response) {
	t.Helper()
	body := oaBuffer(t, resp)
	doc, router := oaRouter(t)
	if _, _, err := router.FindRoute(oaRouteRequest(req)); err == nil {
		t.Errorf("%s %s is a documented operation", req.Method, req.URL.Path)
		return
	}
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", req.Method, req.URL.Path, resp.Header.Get("Content-Type"))
		return
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Errorf("%s %s: the body is not JSON: %v\n%s", req.Method, req.URL.Path, err, oaShort(body))
		return
	}
	schema := doc.Components.Schemas["Error"]
	if err := schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.VisitAsResponse()); err != nil {
		t.Errorf("%s %s: the body is not an Error: %s\n%s", req.Method, req.URL.Path, oaErrText(err), oaShort(body))
		return
	}
	if extra := oaUndeclared(schema, v); len(extra) > 0 {
		t.Errorf("%s %s: undeclared properties %v\n%s", req.Method, req.URL.Path, extra, oaShort(body))
	}
}

// oaRouteRequest is req as the router matches it: the path alone, since the
// document's one server is the relative /api/v1, and HEAD as the GET it is
// answered as.
func oaRouteRequest(req *http.Request) *http.Request {
	r := req.Clone(context.Background())
	if r.Method == http.MethodHead {
		r.Method = http.MethodGet
	}
	r.Host = ""
	r.URL.Scheme, r.URL.Host = "", ""
	r.Body = http.NoBody
	return r
}

func oaBuffer(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Errorf("read the answer: %v", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return body
}

func oaValidate(req *http.Request, route *routers.Route, params map[string]string, resp *http.Response, body []byte) error {
	if req.Method == http.MethodHead {
		if route.Operation.Responses.Status(resp.StatusCode) == nil {
			return errors.New("status not documented for the GET")
		}
		if len(body) != 0 {
			return fmt.Errorf("a body of %d bytes in the answer to HEAD", len(body))
		}
		return nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: oaRouteRequest(req), PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return err
	}
	ref := route.Operation.Responses.Status(resp.StatusCode)
	if ref == nil || ref.Value == nil {
		return errors.New("status not documented")
	}
	content := ref.Value.Content
	if len(content) == 0 {
		if len(body) != 0 {
			return fmt.Errorf("a body of %d bytes where the document has none", len(body))
		}
		return nil
	}
	mt := content.Get(resp.Header.Get("Content-Type"))
	if mt == nil || mt.Schema == nil {
		return nil
	}
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != "application/json" {
		return nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	if extra := oaUndeclared(mt.Schema, v); len(extra) > 0 {
		return fmt.Errorf("properties the schema does not declare: %s", strings.Join(extra, ", "))
	}
	return nil
}

// oaUndeclared lists the JSON paths of the properties of v that its schema
// (with its allOf, anyOf and oneOf parts) does not declare, where the
// schema does not allow additional ones.
func oaUndeclared(s *openapi3.SchemaRef, v any) []string {
	var out []string
	oaWalk(s, v, "$", &out)
	sort.Strings(out)
	return out
}

func oaWalk(s *openapi3.SchemaRef, v any, at string, out *[]string) {
	if s == nil || s.Value == nil {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		// A schema that declares no property and says nothing of
		// additional ones is a free-form object.
		props := map[string][]*openapi3.SchemaRef{}
		open, closed := false, false
		oaParts(s, func(p *openapi3.Schema) {
			for k, ps := range p.Properties {
				props[k] = append(props[k], ps)
			}
			switch ap := p.AdditionalProperties; {
			case (ap.Has != nil && *ap.Has) || ap.Schema != nil:
				open = true
			case ap.Has != nil:
				closed = true
			}
		})
		if len(props) == 0 && !closed {
			open = true
		}
		for k, val := range x {
			ps, ok := props[k]
			if !ok {
				if !open {
					*out = append(*out, at+"."+k)
				}
				continue
			}
			for _, p := range ps {
				oaWalk(p, val, at+"."+k, out)
			}
		}
	case []any:
		var items []*openapi3.SchemaRef
		oaParts(s, func(p *openapi3.Schema) {
			if p.Items != nil {
				items = append(items, p.Items)
			}
		})
		for i, val := range x {
			for _, it := range items {
				oaWalk(it, val, fmt.Sprintf("%s[%d]", at, i), out)
			}
		}
	}
}

// oaParts calls fn with s and every schema its allOf, anyOf and oneOf hold.
func oaParts(s *openapi3.SchemaRef, fn func(*openapi3.Schema)) {
	if s == nil || s.Value == nil {
		return
	}
	fn(s.Value)
	for _, group := range []openapi3.SchemaRefs{s.Value.AllOf, s.Value.AnyOf, s.Value.OneOf} {
		for _, p := range group {
			oaParts(p, fn)
		}
	}
}

// oaErrText is a validation error without the schema and value dumps the
// validator adds to each of its lines (the failing body is shown beside).
func oaErrText(err error) string {
	var keep []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if line == "" || line == "Schema:" || line == "Value:" || strings.HasPrefix(line, " ") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}

func oaShort(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// TestOpenAPICheckCatchesDrift feeds the checker answers that break the
// document in each way it looks for, and one that keeps to it.
func TestOpenAPICheckCatchesDrift(t *testing.T) {
	t.Parallel()
	answer := func(status int, ct, body string) *http.Response {
		h := http.Header{}
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body))}
	}
	me := `{"id":1,"handle":"alice","display_name":"Alice","created_at":"2026-06-01T12:00:00Z","email":null,"notify_email":true,"token":{"id":1,"scopes":["read"],"expires_at":null}}`
	withMe := func(fields string) string { return strings.TrimSuffix(me, "}") + "," + fields + "}" }
	for _, c := range []struct {
		what, method, path string
		resp               *http.Response
		want               string // "" when the answer keeps to the document
	}{
		{"a documented answer", http.MethodGet, "/api/v1/me", answer(200, "application/json", me), ""},
		{"a documented error", http.MethodGet, "/api/v1/me", answer(401, "application/json", `{"error":{"code":"unauthorized","message":"no token"}}`), ""},
		{"an undocumented path", http.MethodGet, "/api/v1/nope", answer(404, "application/json", `{"error":{"code":"not_found","message":"x"}}`), "no such operation"},
		{"an undocumented method", http.MethodPut, "/api/v1/me", answer(200, "application/json", me), "no such operation"},
		{"an undocumented status", http.MethodGet, "/api/v1/me", answer(418, "application/json", me), "status is not supported"},
		{"a missing required property", http.MethodGet, "/api/v1/me", answer(200, "application/json", `{"id":1,"handle":"alice","created_at":"2026-06-01T12:00:00Z","email":null,"notify_email":true,"token":{"id":1,"scopes":["read"],"expires_at":null}}`), "display_name"},
		{"a property of the wrong type", http.MethodGet, "/api/v1/me", answer(200, "application/json", strings.Replace(me, `"id":1`, `"id":"1"`, 1)), "id"},
		{"an undeclared property", http.MethodGet, "/api/v1/me", answer(200, "application/json", withMe(`"password_hash":"x"`)), "$.password_hash"},
		{"an undeclared nested property", http.MethodGet, "/api/v1/me", answer(200, "application/json", strings.Replace(me, `"scopes"`, `"secret":"x","scopes"`, 1)), "$.token.secret"},
		{"an error body of the wrong shape", http.MethodGet, "/api/v1/me", answer(401, "application/json", `{"message":"no token"}`), "error"},
		{"an undeclared content type", http.MethodGet, "/api/v1/me", answer(200, "text/html", "<p>hi</p>"), "Content-Type"},
		{"a body where none is documented", http.MethodDelete, "/api/v1/tokens/1", answer(204, "", "{}"), "where the document has none"},
		{"HEAD of a documented GET", http.MethodHead, "/api/v1/me", answer(200, "application/json", ""), ""},
		{"HEAD with an undocumented status", http.MethodHead, "/api/v1/me", answer(418, "application/json", ""), "status not documented"},
		{"HEAD of a path that has no GET", http.MethodHead, "/api/v1/tokens/1/rotate", answer(200, "application/json", ""), "no such operation"},
	} {
		rec := &oaRecorder{TB: t}
		req, _ := http.NewRequest(c.method, c.path, nil)
		oaCheck(rec, req, nil, c.resp)
		got := strings.Join(rec.errs, "\n")
		switch {
		case c.want == "" && got != "":
			t.Errorf("%s: refused: %s", c.what, got)
		case c.want != "" && !strings.Contains(got, c.want):
			t.Errorf("%s: want an error naming %q, got %q", c.what, c.want, got)
		}
	}

	// A request the server accepted must be one the document allows.
	post := `{"id":7,"kind":"post","title":"Hi","body":"","album_id":null,"cover_id":null,"public":false,"created_at":"2026-06-01T12:00:00Z","updated_at":"2026-06-01T12:00:00Z"}`
	for _, c := range []struct {
		body string
		want string
	}{
		{`{"title":"Hi"}`, ""},
		{`{"title":5}`, "does not allow"},
	} {
		rec := &oaRecorder{TB: t}
		req, _ := http.NewRequest(http.MethodPost, "/api/v1/posts", strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		oaCheck(rec, req, oaRequestBody(rec, req), answer(201, "application/json", post))
		got := strings.Join(rec.errs, "\n")
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("request %s: got %q, want %q", c.body, got, c.want)
		}
	}

	rec := &oaRecorder{TB: t}
	req, _ := http.NewRequest(http.MethodGet, "/api/v1/me", nil)
	oaCheckUndocumented(rec, req, answer(200, "application/json", me))
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "is a documented operation") {
		t.Errorf("an undocumented check of a documented route: %q", rec.errs)
	}
}

// oaRecorder collects what a checker reports instead of failing the test.
type oaRecorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *oaRecorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *oaRecorder) Helper() {}

// TestAPIRequestsGoThroughTheCheck keeps the web tests from answering API
// requests past oaCheck: the only places that hand a request to the
// server's app are the request helpers, and each calls the check.
func TestAPIRequestsGoThroughTheCheck(t *testing.T) {
	t.Parallel()
	files, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	direct := regexp.MustCompile(`\.App\(\)\.(Test|Handler)\(`)
	allowed := []string{"harness_test.go", "guest_test.go"}
	for _, f := range files {
		name := f.Name()
		if !strings.HasSuffix(name, "_test.go") || slices.Contains(allowed, name) {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(src), "\n") {
			if direct.MatchString(line) {
				t.Errorf("%s:%d sends a request past the OpenAPI check; use env.test, env.api or client.do", name, i+1)
			}
		}
	}
}
