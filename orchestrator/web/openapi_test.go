package web

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/orchestrator"
)

// openAPI is the part of the document the tests read.
type openAPI struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
	Comps   struct {
		Schemas map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
}

// operation is one documented method and path.
type operation struct{ method, path string }

func readOpenAPI(t *testing.T, b []byte) (openAPI, []operation) {
	t.Helper()
	var doc openAPI
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("Got(openapi) = %q, want 3.x", doc.OpenAPI)
	}
	var ops []operation
	ids := map[string]string{}
	for path, item := range doc.Paths {
		for method, raw := range item {
			if method == "parameters" {
				continue
			}
			var op struct {
				ID        string                     `json:"operationId"`
				Responses map[string]json.RawMessage `json:"responses"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			if op.ID == "" || len(op.Responses) == 0 {
				t.Errorf("Got(%s %s) without operationId or responses", method, path)
			}
			if prev, dup := ids[op.ID]; dup {
				t.Errorf("Got(operationId %s) on %s and %s %s, want unique", op.ID, prev, method, path)
			}
			ids[op.ID] = method + " " + path
			ops = append(ops, operation{strings.ToUpper(method), path})
		}
	}
	for _, m := range regexp.MustCompile(`"\$ref": "#/components/schemas/([^"]+)"`).FindAllSubmatch(b, -1) {
		if _, ok := doc.Comps.Schemas[string(m[1])]; !ok {
			t.Errorf("Got($ref %s) = no such schema", m[1])
		}
	}
	slices.SortFunc(ops, func(a, b operation) int { return strings.Compare(a.path+a.method, b.path+b.method) })
	return doc, ops
}

// servedPatterns reads this package's source for the patterns it registers
// on a mux (x.Handle / x.HandleFunc with a string literal), so a route added
// anywhere in the package is seen without running it.
func servedPatterns(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
				return true
			}
			if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				p, _ := strconv.Unquote(lit.Value)
				out = append(out, p)
			}
			return true
		})
	}
	if len(out) < 10 {
		t.Fatalf("Got(served patterns) = %q, want the routes of handler.go and the rest", out)
	}
	return out
}

// samplePath fills a documented path's parameters with values the test
// server knows: host mac-01, a build key holding a slash.
func samplePath(p string) string {
	return strings.NewReplacer("{host}", "mac-01", "{key}", "macos-14/bun").Replace(p)
}

// TestOpenAPICoversEveryRoute: every route this package serves is in the
// OpenAPI document, and every documented operation is routed (by a mux
// holding exactly the served patterns). That each documented operation
// answers on a running orchestrator is cmd/vmfleet's
// TestOpenAPIRoutesAnswer.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	_, ops := readOpenAPI(t, openAPIDoc)
	served := servedPatterns(t)

	mux := http.NewServeMux()
	for _, p := range served {
		mux.HandleFunc(p, func(http.ResponseWriter, *http.Request) {})
	}
	matched := map[string]bool{}
	for _, op := range ops {
		_, pattern := mux.Handler(httptest.NewRequest(op.method, samplePath(op.path), nil))
		if pattern == "" {
			t.Errorf("Got(documented %s %s) = no route serves it", op.method, op.path)
			continue
		}
		matched[pattern] = true
	}
	for _, p := range served {
		if !matched[p] {
			t.Errorf("Got(route %q) = not in openapi.json, want every served route documented", p)
		}
	}

}

// TestOpenAPIServed: GET /api/v1/openapi.json answers the embedded document
// as JSON, behind the read token like every other read.
func TestOpenAPIServed(t *testing.T) {
	s := newTestServer(t, nil, orchestrator.Config{APIReadToken: "read-tok"}, func() time.Time { return t0 })
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/openapi.json", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("Got(openapi.json without the read token) = %d, want 401", rec.Code)
	}
	req := httptest.NewRequest(http.MethodGet, "/api/v1/openapi.json", nil)
	req.Header.Set("Authorization", "Bearer read-tok")
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("Got(openapi.json) = %d %q, want 200 JSON", rec.Code, rec.Header().Get("Content-Type"))
	}
	if doc, _ := readOpenAPI(t, rec.Body.Bytes()); len(doc.Paths) == 0 {
		t.Error("Got(openapi.json) without paths")
	}
}
