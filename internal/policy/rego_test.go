package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/format"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// parseFiles parses every embedded .rego file, tests included when withTests is set.
func parseFiles(t testing.TB, withTests bool) map[string]*ast.Module {
	t.Helper()
	modules := map[string]*ast.Module{}
	err := fs.WalkDir(Files(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".rego") {
			return err
		}
		if !withTests && !isPolicyModule(path) {
			return nil
		}
		src, err := fs.ReadFile(Files(), path)
		if err != nil {
			return err
		}
		m, err := ast.ParseModuleWithOpts(path, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return err
		}
		modules[path] = m
		return nil
	})
	if err != nil {
		t.Fatalf("parse embedded Rego: %v", err)
	}
	return modules
}

// prepareQuery compiles query against the policy modules, in process.
func prepareQuery(t testing.TB, query string) rego.PreparedEvalQuery {
	t.Helper()
	opts := []func(*rego.Rego){rego.Query(query)}
	for _, m := range parseFiles(t, false) {
		opts = append(opts, rego.ParsedModule(m))
	}
	prepared, err := rego.New(opts...).PrepareForEval(context.Background())
	if err != nil {
		t.Fatalf("prepare %s: %v", query, err)
	}
	return prepared
}

// TestRegoPolicies runs the Rego unit tests through OPA's test runner, one Go subtest each.
func TestRegoPolicies(t *testing.T) {
	ctx := context.Background()
	results, err := tester.NewRunner().
		SetCompiler(ast.NewCompiler().WithEnablePrintStatements(true)).
		SetStore(inmem.New()).
		CapturePrintOutput(true).
		Run(ctx, parseFiles(t, true))
	if err != nil {
		t.Fatalf("run Rego tests: %v", err)
	}

	ran, cases := 0, 0
	for r := range results {
		ran++
		cases += max(len(r.SubResults), 1)
		t.Run(r.Package+"."+r.Name, func(t *testing.T) {
			switch {
			case r.Error != nil:
				t.Errorf("%s: error: %v", r.Location, r.Error)
			case r.Skip:
				t.Skipf("%s: skipped (todo_ prefix)", r.Location)
			case r.Fail:
				var failed []string
				for name, sub := range r.SubResults.Iter {
					if sub.Fail {
						failed = append(failed, strings.Join(name, " / "))
					}
				}
				slices.Sort(failed)
				msg := r.Location.String() + ": failed"
				if len(failed) > 0 {
					msg += fmt.Sprintf("; failing cases: %q", failed)
				}
				if len(r.Output) > 0 {
					msg += "; output: " + string(r.Output)
				}
				t.Error(msg)
			}
		})
	}
	if ran == 0 {
		t.Fatal("no Rego tests ran")
	}
	t.Logf("%d Rego tests (%d cases) ran", ran, cases)
}

// TestRegoIsFormatted keeps the policies as `opa fmt` writes them.
func TestRegoIsFormatted(t *testing.T) {
	err := fs.WalkDir(Files(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := fs.ReadFile(Files(), path)
		if err != nil {
			return err
		}
		formatted, err := format.SourceWithOpts(path, src, format.Opts{RegoVersion: ast.RegoV1})
		if err != nil {
			return err
		}
		if !bytes.Equal(formatted, src) {
			t.Errorf("%s is not formatted; want:\n%s", path, formatted)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestModulesLeaveOutTests checks that the policy set served by OPA has no test rules, and
// that every policy module has a test file beside it.
func TestModulesLeaveOutTests(t *testing.T) {
	modules, err := Modules()
	if err != nil {
		t.Fatal(err)
	}
	names := slices.Sorted(maps.Keys(modules))
	want := []string{"budget.rego", "gateway.rego", "governor.rego", "rbac.rego", "trial.rego"}
	if !slices.Equal(names, want) {
		t.Errorf("Modules() = %v, want %v", names, want)
	}
	for _, name := range names {
		if !strings.Contains(modules[name], "package waooaw.gateway") {
			t.Errorf("%s is outside the waooaw.gateway package tree", name)
		}
		testFile := strings.TrimSuffix(name, ".rego") + "_test.rego"
		if _, err := fs.Stat(Files(), testFile); err != nil {
			t.Errorf("%s has no tests beside it: %v", name, err)
		}
	}
}

// alertTable is shared by the Go and Rego sides of the alert-level agreement.
var alertTable = []struct {
	percent float64
	level   string
}{
	{0, "normal"},
	{79.99, "normal"},
	{80, "warning"},
	{94.99, "warning"},
	{95, "high"},
	{99.99, "high"},
	{100, "critical"},
	{150, "critical"},
}

func TestAlertLevelGoAgreesWithRego(t *testing.T) {
	ctx := context.Background()
	query := prepareQuery(t, "level := data.waooaw.gateway.budget.alert_level(input.percent); "+
		"thresholds := data.waooaw.gateway.budget.alert_thresholds")

	for _, tc := range alertTable {
		rs, err := query.Eval(ctx, rego.EvalInput(map[string]any{"percent": tc.percent}))
		if err != nil || len(rs) != 1 {
			t.Fatalf("alert_level(%v): results %v, error %v", tc.percent, rs, err)
		}
		regoLevel, _ := rs[0].Bindings["level"].(string)
		var thresholds []Threshold
		if raw, err := json.Marshal(rs[0].Bindings["thresholds"]); err != nil || json.Unmarshal(raw, &thresholds) != nil {
			t.Fatalf("alert_thresholds %v do not decode as []Threshold", rs[0].Bindings["thresholds"])
		}
		goLevel := AlertLevel(tc.percent, thresholds)
		if regoLevel != tc.level || goLevel != tc.level {
			t.Errorf("at %v%%: Rego alert_level = %q, Go AlertLevel(alert_thresholds) = %q, want %q",
				tc.percent, regoLevel, goLevel, tc.level)
		}
	}
}

// BenchmarkEvaluateDecision measures the policy evaluation alone, in process, to tell its
// share of BenchmarkDecide from the HTTP round trip's.
func BenchmarkEvaluateDecision(b *testing.B) {
	ctx := context.Background()
	query := prepareQuery(b, "data.waooaw.gateway.decision")
	raw, err := json.Marshal(gatewayInput())
	if err != nil {
		b.Fatal(err)
	}
	input, err := ast.ValueFromReader(bytes.NewReader(raw))
	if err != nil {
		b.Fatal(err)
	}

	b.ReportAllocs()
	for b.Loop() {
		rs, err := query.Eval(ctx, rego.EvalParsedInput(input))
		if err != nil || len(rs) != 1 {
			b.Fatalf("decision: %v, %v", rs, err)
		}
	}
}
