package validate

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jstemmer/go-junit-report/v2/junit"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/")

// The secrets planted in sampleReport; no output may contain any of them.
var sampleSecrets = []string{
	sampleJWT,
	"eyJzdWIiOiJ1c2VyLTQyIiwiZW1haWwiOiJ1c2VyQGV4YW1wbGUuY29tIiwicm9sZXMiOlsiYWRtaW4iXX0", // the JWT's claims
	"c2lnbmF0dXJlLW5vdC1yZWFsbHktcnNhLWJ1dC1sb25nLWVub3VnaA_x-Y",                          // and its signature
	"opaque-bearer-7f3a9c",
	"s3cr3t-pw",
	"hunter2",
	"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
	"MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu",
	"PRIVATE KEY",
}

// sampleReport is a fixed run: a pass, a failure with evidence and a log tail full of
// secrets (and a control character, a pipe and backticks), a skip, and a failure with
// nothing but a message full of characters the formats must escape.
func sampleReport() *Report {
	return &Report{
		Suite:     "smoke",
		Target:    "cp https://ops:hunter2@cp.staging.example.com",
		StartedAt: time.Date(2026, 11, 28, 13, 4, 5, 0, time.UTC),
		Duration:  1250 * time.Millisecond,
		Results: []Result{
			{
				ID: "backend-health", Name: "Backend health", Outcome: Passed,
				Duration: 12*time.Millisecond + 345*time.Microsecond, Attempts: 1,
				Message: "database connected",
				Evidence: []string{
					"GET http://127.0.0.1:8080/health → 200 OK (3ms)",
					`  body: {"status":"healthy","database":"connected"}`,
				},
			},
			{
				ID: "gateway-backend", Name: "Gateway → backend", Outcome: Failed,
				Duration: 1234 * time.Millisecond, Attempts: 3,
				Message: "status 503, want 200 (token " + sampleJWT + ")",
				Evidence: []string{
					"GET http://127.0.0.1:8000/api/agents → 503 Service Unavailable (4ms)",
					"  Authorization: Bearer opaque-bearer-7f3a9c",
					`  body: {"type":"https://waooaw.dev/problems/unavailable","detail":"connect postgres://waooaw:s3cr3t-pw@127.0.0.1:5432/waooaw: refused"}`,
					"  a | pipe, ``` backticks and <nil>",
				},
				Service: "backend",
				LogTail: []string{
					`{"level":"ERROR","msg":"database down","dsn":"postgres://waooaw:s3cr3t-pw@127.0.0.1:5432/waooaw"}`,
					"loaded key:",
					"-----BEGIN PRIVATE KEY-----",
					"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
					"MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu",
					"-----END PRIVATE KEY-----",
					"\x1b[31mcoloured\x1b[0m line ]]> end, a bell\a and a bad byte \xff",
				},
			},
			{
				ID: "cp-flow", Name: "CP → gateway flow", Outcome: Skipped, Attempts: 1,
				Message: "needs the stack's signing key to mint tokens (run on the stack's machine, or pass --key)",
			},
			{
				ID: "middleware-stack", Name: "Middleware #stack", Outcome: Failed,
				Duration: 7 * time.Millisecond, Attempts: 1,
				Message: "Server-Timing lacks rbac | budget\nsecond line with a " + samplePEM,
				Service: "gateway",
			},
		},
	}
}

// writers are the formats under test, by golden file.
var writers = []struct {
	golden string
	write  func(*bytes.Buffer, *Report) error
}{
	{"report.txt", func(b *bytes.Buffer, r *Report) error { return WriteText(b, r, false) }},
	{"report-colour.txt", func(b *bytes.Buffer, r *Report) error { return WriteText(b, r, true) }},
	{"report.json", func(b *bytes.Buffer, r *Report) error { return WriteJSON(b, r) }},
	{"report.xml", func(b *bytes.Buffer, r *Report) error { return WriteJUnit(b, r) }},
	{"report.tap", func(b *bytes.Buffer, r *Report) error { return WriteTAP(b, r) }},
	{"report.md", func(b *bytes.Buffer, r *Report) error { return WriteMarkdown(b, r) }},
}

func render(t *testing.T, write func(*bytes.Buffer, *Report) error, rep *Report) string {
	t.Helper()
	var buf bytes.Buffer
	if err := write(&buf, rep); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestReportGolden(t *testing.T) {
	for _, w := range writers {
		t.Run(w.golden, func(t *testing.T) {
			checkGolden(t, w.golden, render(t, w.write, sampleReport()))
		})
	}
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -run Golden -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestReportHasNoSecretInAnyFormat(t *testing.T) {
	for _, format := range Formats() {
		for _, colour := range []bool{false, true} {
			var buf bytes.Buffer
			if err := Write(&buf, format, sampleReport(), colour); err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			out := buf.String()
			for _, secret := range sampleSecrets {
				if strings.Contains(out, secret) {
					t.Errorf("the %s report (colour %v) contains the secret %q", format, colour, secret)
				}
			}
			for _, mark := range []string{"[redacted-token]", "Bearer [redacted]", "waooaw:[redacted]@", "ops:[redacted]@", "[redacted-key]"} {
				if !strings.Contains(out, mark) {
					t.Errorf("the %s report (colour %v) lacks %q: was that field left out?", format, colour, mark)
				}
			}
		}
	}
}

func TestWriteRejectsAnUnknownFormat(t *testing.T) {
	err := Write(&bytes.Buffer{}, "yaml", sampleReport(), false)
	if err == nil {
		t.Fatal("no error for format yaml")
	}
	for _, f := range Formats() {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("the error %q does not name the format %s", err, f)
		}
	}
}

func TestWriteJUnitParsesAsJUnit(t *testing.T) {
	out := render(t, func(b *bytes.Buffer, r *Report) error { return WriteJUnit(b, r) }, sampleReport())
	var suites junit.Testsuites
	if err := xml.Unmarshal([]byte(out), &suites); err != nil {
		t.Fatalf("not XML the JUnit types read: %v\n%s", err, out)
	}
	if len(suites.Suites) != 1 {
		t.Fatalf("%d testsuites, want 1", len(suites.Suites))
	}
	s := suites.Suites[0]
	if s.Name != "waooaw verify (smoke)" || s.Tests != 4 || s.Failures != 2 || s.Skipped != 1 || s.Errors != 0 {
		t.Errorf("testsuite %q tests=%d failures=%d skipped=%d errors=%d, want waooaw verify (smoke) 4 2 1 0",
			s.Name, s.Tests, s.Failures, s.Skipped, s.Errors)
	}
	if suites.Tests != 4 || suites.Failures != 2 {
		t.Errorf("testsuites tests=%d failures=%d, want 4 2", suites.Tests, suites.Failures)
	}
	if s.Time != "1.250" || s.Timestamp != "2026-11-28T13:04:05Z" {
		t.Errorf("time %q timestamp %q, want 1.250 2026-11-28T13:04:05Z", s.Time, s.Timestamp)
	}
	if len(s.Testcases) != 4 {
		t.Fatalf("%d testcases, want 4", len(s.Testcases))
	}
	pass, fail, skip := s.Testcases[0], s.Testcases[1], s.Testcases[2]
	if pass.Name != "backend-health: Backend health" || pass.Classname != "waooaw.verify" || pass.Time != "0.012" {
		t.Errorf("passing testcase %+v", pass)
	}
	if pass.Failure != nil || pass.Skipped != nil {
		t.Errorf("the passing testcase has a failure or a skip: %+v", pass)
	}
	if fail.Failure == nil {
		t.Fatal("the failing testcase has no failure")
	}
	if want := "status 503, want 200 (token [redacted-token])"; fail.Failure.Message != want {
		t.Errorf("failure message %q, want %q", fail.Failure.Message, want)
	}
	if !strings.Contains(fail.Failure.Data, "503 Service Unavailable") {
		t.Errorf("the failure's body is not the evidence: %q", fail.Failure.Data)
	}
	if fail.SystemOut == nil || !strings.Contains(fail.SystemOut.Data, "last log lines of backend:") ||
		!strings.Contains(fail.SystemOut.Data, `"msg":"database down"`) || !strings.Contains(fail.SystemOut.Data, "line ]]> end") {
		t.Errorf("system-out is not the backend's log tail: %+v", fail.SystemOut)
	}
	if skip.Skipped == nil || !strings.HasPrefix(skip.Skipped.Message, "needs the stack's signing key") {
		t.Errorf("skipped testcase %+v", skip)
	}
	if s.Testcases[3].Failure == nil || s.Testcases[3].Failure.Data == "" {
		t.Errorf("a failure without evidence has no body: %+v", s.Testcases[3].Failure)
	}
}

func TestWriteTAPPlanMatches(t *testing.T) {
	out := render(t, func(b *bytes.Buffer, r *Report) error { return WriteTAP(b, r) }, sampleReport())
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if lines[0] != "TAP version 14" {
		t.Errorf("first line %q, want TAP version 14", lines[0])
	}
	var plan string
	var points []string
	inYAML := false
	for _, l := range lines {
		switch {
		case l == "  ---":
			inYAML = true
		case l == "  ...":
			inYAML = false
		case inYAML:
			// Every value is a number, a bare word or a JSON string (a YAML double-quoted scalar).
			if v, ok := yamlValue(l); ok && strings.HasPrefix(v, `"`) && !json.Valid([]byte(v)) {
				t.Errorf("YAML line %q: %s is not a quoted scalar", l, v)
			}
		case strings.HasPrefix(l, "1.."):
			plan = l
		case strings.HasPrefix(l, "ok ") || strings.HasPrefix(l, "not ok "):
			points = append(points, l)
		}
	}
	if inYAML {
		t.Error("a YAML block is not closed")
	}
	if want := "1..4"; plan != want || len(points) != 4 {
		t.Errorf("plan %q and %d test points, want %s and 4", plan, len(points), want)
	}
	want := []string{
		"ok 1 - backend-health: Backend health",
		"not ok 2 - gateway-backend: Gateway → backend",
		"ok 3 - cp-flow: CP → gateway flow # SKIP needs the stack's signing key to mint tokens (run on the stack's machine, or pass --key)",
		`not ok 4 - middleware-stack: Middleware \#stack`,
	}
	for i := range want {
		if i < len(points) && points[i] != want[i] {
			t.Errorf("test point %d = %q, want %q", i+1, points[i], want[i])
		}
	}
}

// yamlValue is the value of a "key: value" or "- value" line of a diagnostic block.
func yamlValue(line string) (string, bool) {
	l := strings.TrimSpace(line)
	if v, ok := strings.CutPrefix(l, "- "); ok {
		return v, true
	}
	if _, v, ok := strings.Cut(l, ": "); ok {
		return v, true
	}
	return "", false
}

func TestWriteMarkdownHasARowPerCheck(t *testing.T) {
	rep := sampleReport()
	out := render(t, func(b *bytes.Buffer, r *Report) error { return WriteMarkdown(b, r) }, rep)
	row := regexp.MustCompile(`^\| .+ \| (✅ Pass|❌ Fail|⏭️ Skip) \| .* \|$`)
	var rows []string
	for l := range strings.SplitSeq(out, "\n") {
		if row.MatchString(l) {
			rows = append(rows, l)
		}
	}
	if len(rows) != len(rep.Results) {
		t.Fatalf("%d check rows, want %d:\n%s", len(rows), len(rep.Results), out)
	}
	// An escaped pipe keeps a cell whole: every row has exactly four unescaped bars.
	unescapedBar := regexp.MustCompile(`(^|[^\\])\|`)
	for _, r := range rows {
		if n := len(unescapedBar.FindAllString(r, -1)); n != 4 {
			t.Errorf("row %q has %d cell bars, want 4", r, n)
		}
	}
	if !strings.Contains(out, "### Failures") || strings.Count(out, "#### ") != 2 {
		t.Errorf("want a Failures section with two failures:\n%s", out)
	}
}

func TestWriteMarkdownWithoutFailuresHasNoFailuresSection(t *testing.T) {
	rep := sampleReport()
	rep.Results = rep.Results[:1]
	out := render(t, func(b *bytes.Buffer, r *Report) error { return WriteMarkdown(b, r) }, rep)
	if strings.Contains(out, "Failures") {
		t.Errorf("a passing report has a Failures section:\n%s", out)
	}
}

func TestWriteJSONRoundTrips(t *testing.T) {
	rep := sampleReport()
	out := render(t, func(b *bytes.Buffer, r *Report) error { return WriteJSON(b, r) }, rep)

	var back Report
	if err := json.Unmarshal([]byte(out), &back); err != nil {
		t.Fatal(err)
	}
	want := cleanReport(rep)
	if back.Suite != want.Suite || back.Target != want.Target || !back.StartedAt.Equal(want.StartedAt) || back.Duration != want.Duration {
		t.Errorf("report header %+v, want %+v", back, want)
	}
	if len(back.Results) != len(want.Results) {
		t.Fatalf("%d results, want %d", len(back.Results), len(want.Results))
	}
	for i, got := range back.Results {
		w := want.Results[i]
		if got.ID != w.ID || got.Name != w.Name || got.Outcome != w.Outcome || got.Duration != w.Duration ||
			got.Attempts != w.Attempts || got.Message != w.Message || got.Service != w.Service ||
			strings.Join(got.Evidence, "\n") != strings.Join(w.Evidence, "\n") || strings.Join(got.LogTail, "\n") != strings.Join(w.LogTail, "\n") {
			t.Errorf("result %d = %+v, want %+v", i, got, w)
		}
	}

	var extra struct {
		OK                      *bool
		Passed, Failed, Skipped *int
		DurationMS              *float64 `json:"duration_ms"`
		Results                 []struct {
			DurationMS *float64 `json:"duration_ms"`
		}
	}
	if err := json.Unmarshal([]byte(out), &extra); err != nil {
		t.Fatal(err)
	}
	if extra.OK == nil || *extra.OK || extra.Passed == nil || *extra.Passed != 1 || extra.Failed == nil || *extra.Failed != 2 || extra.Skipped == nil || *extra.Skipped != 1 {
		t.Errorf("counts ok=%v passed=%v failed=%v skipped=%v, want false 1 2 1", deref(extra.OK), deref(extra.Passed), deref(extra.Failed), deref(extra.Skipped))
	}
	if extra.DurationMS == nil || *extra.DurationMS != 1250 {
		t.Errorf("duration_ms %v, want 1250", deref(extra.DurationMS))
	}
	if len(extra.Results) == 0 || extra.Results[0].DurationMS == nil || *extra.Results[0].DurationMS != 12.345 {
		t.Errorf("the first result's duration_ms is not 12.345: %s", out)
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestWriteTextSummary(t *testing.T) {
	tests := []struct {
		name    string
		results []Result
		want    string
	}{
		{"none", nil, "0 checks: 0 passed, 0 failed, 0 skipped in 1.25s"},
		{"one", []Result{{ID: "a", Name: "A", Outcome: Passed}}, "1 check: 1 passed, 0 failed, 0 skipped in 1.25s"},
		{"sample", sampleReport().Results, "4 checks: 1 passed, 2 failed, 1 skipped in 1.25s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := sampleReport()
			rep.Results = tt.results
			out := render(t, func(b *bytes.Buffer, r *Report) error { return WriteText(b, r, false) }, rep)
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if got := lines[len(lines)-1]; got != tt.want {
				t.Errorf("summary %q, want %q", got, tt.want)
			}
		})
	}
}
