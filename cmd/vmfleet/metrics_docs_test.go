package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vmfleet/vmfleet/agentd"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/web"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// TestMetricsAreDocumented checks docs/metrics.md against the metrics the
// orchestrator and the agent export: every metric scraped from their
// /metrics, and every metric their source declares (a vector with no series
// yet is not in a scrape), has a row; every row names a real metric.
func TestMetricsAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(vmfleet_[a-z0-9_]+)`").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	exported := map[string]string{} // name → where it was found
	for _, n := range scrapeOrchestrator(t) {
		exported[n] = "orchestrator /metrics"
	}
	for _, n := range scrapeAgent(t) {
		exported[n] = "agent /metrics"
	}
	for _, dir := range []string{"../../orchestrator", "../../orchestrator/hosts", "../../orchestrator/levers", "../../orchestrator/builds", "../../orchestrator/prunes", "../../orchestrator/pulls", "../../orchestrator/web", "../../agentd", "../../agentd/bkagent", "../../internal/buildinfo"} {
		for _, n := range declaredMetrics(t, dir) {
			exported[n] = dir
		}
	}
	for name, where := range exported {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "promhttp_") {
			continue // the standard collectors, documented as a group
		}
		if !documented[name] {
			t.Errorf("Got(docs/metrics.md) lacks %s (from %s), want a row: name, type, labels, meaning", name, where)
		}
	}
	for name := range documented {
		if _, ok := exported[name]; !ok {
			t.Errorf("Got(docs/metrics.md row %s) = no such metric, want rows only for metrics vmfleet exports", name)
		}
	}
}

func scrape(t *testing.T, h http.Handler) []string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+) `).FindAllStringSubmatch(string(body), -1) {
		out = append(out, m[1])
	}
	if len(out) == 0 {
		t.Fatalf("scrape: no metrics (status %d)", rec.Code)
	}
	return out
}

func scrapeOrchestrator(t *testing.T) []string {
	o, err := orchestrator.New(nil, nil, orchestrator.Config{Spec: events.Spec{Images: events.DefaultImageSpec()}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := web.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return scrape(t, s.Handler())
}

func scrapeAgent(t *testing.T) []string {
	reg := prometheus.NewRegistry()
	dir := t.TempDir()
	if _, err := agentd.New(agentd.Config{Hostname: "mac-01", Images: events.DefaultImageSpec(),
		TartHome: filepath.Join(dir, "tart"), StateDir: filepath.Join(dir, "state")}, tarttest.NewFake(""), agentd.WithMetrics(reg)); err != nil {
		t.Fatal(err)
	}
	return scrape(t, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
}

// declaredMetrics finds prometheus.*Opts literals in a package's source and
// builds each metric's full name, resolving string constants.
func declaredMetrics(t *testing.T, dir string) []string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	var lits []*ast.CompositeLit
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				for i, name := range n.Names {
					if i < len(n.Values) {
						if s, ok := stringLit(n.Values[i]); ok {
							consts[name.Name] = s
						}
					}
				}
			case *ast.CompositeLit:
				if sel, ok := n.Type.(*ast.SelectorExpr); ok && strings.HasSuffix(sel.Sel.Name, "Opts") {
					if x, ok := sel.X.(*ast.Ident); ok && x.Name == "prometheus" {
						lits = append(lits, n)
					}
				}
			}
			return true
		})
	}
	var out []string
	for _, lit := range lits {
		parts := map[string]string{}
		for _, e := range lit.Elts {
			kv, ok := e.(*ast.KeyValueExpr)
			if !ok {
				continue
			}
			key := kv.Key.(*ast.Ident).Name
			if s, ok := stringLit(kv.Value); ok {
				parts[key] = s
			} else if id, ok := kv.Value.(*ast.Ident); ok {
				parts[key] = consts[id.Name]
			}
		}
		if parts["Name"] != "" {
			out = append(out, prometheus.BuildFQName(parts["Namespace"], parts["Subsystem"], parts["Name"]))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func stringLit(e ast.Expr) (string, bool) {
	bl, ok := e.(*ast.BasicLit)
	if !ok || bl.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(bl.Value)
	return s, err == nil
}
