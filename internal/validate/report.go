package validate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/lipgloss"
	"github.com/jstemmer/go-junit-report/v2/junit"
	"github.com/muesli/termenv"
)

// Formats returns the report formats Write knows, in the order a help text lists them.
func Formats() []string {
	return []string{"text", "json", "junit", "tap", "markdown"}
}

// Write renders rep in format (one of Formats) to w. colour applies to text only; the caller
// decides it (a terminal, NO_COLOR unset). Every format is redacted.
func Write(w io.Writer, format string, rep *Report, colour bool) error {
	if rep == nil {
		return fmt.Errorf("write the %s report: no report", format)
	}
	switch format {
	case "text":
		return WriteText(w, rep, colour)
	case "json":
		return WriteJSON(w, rep)
	case "junit":
		return WriteJUnit(w, rep)
	case "tap":
		return WriteTAP(w, rep)
	case "markdown":
		return WriteMarkdown(w, rep)
	}
	return fmt.Errorf("unknown report format %q: use one of %s", format, strings.Join(Formats(), ", "))
}

// summary is the one-line account of a run: "10 checks: 9 passed, 1 failed, 0 skipped in 0.42s".
func summary(rep *Report) string {
	passed, failed, skipped := rep.Counts()
	noun := "checks"
	if len(rep.Results) == 1 {
		noun = "check"
	}
	return fmt.Sprintf("%d %s: %d passed, %d failed, %d skipped in %.2fs",
		len(rep.Results), noun, passed, failed, skipped, rep.Duration.Seconds())
}

// suiteTitle names the run the way CI lists it: "waooaw verify (smoke)".
func suiteTitle(rep *Report) string {
	return fmt.Sprintf("waooaw verify (%s)", rep.Suite)
}

// shortDuration is a check's time for people: 12ms under a second, 1.23s above.
func shortDuration(d time.Duration) string {
	if ms := d.Round(time.Millisecond); ms < time.Second {
		return fmt.Sprintf("%dms", ms.Milliseconds())
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// milliseconds is d as a float of milliseconds, for JSON and TAP readers.
func milliseconds(d time.Duration) float64 {
	return float64(d) / float64(time.Millisecond)
}

// seconds is d the way JUnit files carry it: seconds with three decimals.
func seconds(d time.Duration) string {
	return fmt.Sprintf("%.3f", d.Seconds())
}

// --- text ---

// textStyles colour the text report; without colour each is the identity, so the plain
// report is exactly its text.
type textStyles struct {
	pass, fail, skip, dim, bold func(string) string
}

func newTextStyles(w io.Writer, colour bool) textStyles {
	if !colour {
		plain := func(s string) string { return s }
		return textStyles{plain, plain, plain, plain, plain}
	}
	r := lipgloss.NewRenderer(w)
	r.SetColorProfile(termenv.ANSI) // the caller has decided on colour
	paint := func(s lipgloss.Style) func(string) string {
		s = s.TabWidth(lipgloss.NoTabConversion)
		// Line by line: lipgloss pads a multi-line block to its widest line.
		return func(text string) string {
			lines := strings.Split(text, "\n")
			for i, l := range lines {
				lines[i] = s.Render(l)
			}
			return strings.Join(lines, "\n")
		}
	}
	return textStyles{
		pass: paint(r.NewStyle().Foreground(lipgloss.Color("2"))),
		fail: paint(r.NewStyle().Foreground(lipgloss.Color("1"))),
		skip: paint(r.NewStyle().Foreground(lipgloss.Color("3"))),
		dim:  paint(r.NewStyle().Foreground(lipgloss.Color("8"))),
		bold: paint(r.NewStyle().Bold(true)),
	}
}

// WriteText writes the report for people: a line per check, a failure's evidence and its
// service's last log lines indented under it, and a summary.
//
//	✔ backend-health   Backend health     12ms  database connected
//	✘ gateway-backend  Gateway → backend  1.23s (3 attempts)  status 503, want 200
//	    GET http://127.0.0.1:8000/api/agents → 503 Service Unavailable (4ms)
//	    last log lines of backend:
//	      …
//	- cp-flow          CP → gateway flow  skipped: needs the stack's signing key
//	3 checks: 1 passed, 1 failed, 1 skipped in 1.25s
func WriteText(w io.Writer, rep *Report, colour bool) error {
	rep = cleanReport(rep)
	st := newTextStyles(w, colour)
	var idW, nameW, timeW int
	times := make([]string, len(rep.Results))
	for i, res := range rep.Results {
		idW = max(idW, lipgloss.Width(res.ID))
		nameW = max(nameW, lipgloss.Width(res.Name))
		if res.Outcome != Skipped {
			times[i] = shortDuration(res.Duration)
			if res.Attempts > 1 {
				times[i] += fmt.Sprintf(" (%d attempts)", res.Attempts)
			}
			timeW = max(timeW, lipgloss.Width(times[i]))
		}
	}
	pad := func(s string, width int) string {
		return s + strings.Repeat(" ", max(0, width-lipgloss.Width(s)))
	}

	var b strings.Builder
	header := suiteTitle(rep)
	if rep.Target != "" {
		header += ": " + rep.Target
	}
	fmt.Fprintln(&b, st.bold(header))
	for i, res := range rep.Results {
		head := pad(res.ID, idW) + "  " + pad(res.Name, nameW) + "  "
		switch res.Outcome {
		case Passed:
			line := st.pass("✔") + " " + head + pad(times[i], timeW)
			if res.Message != "" {
				line += "  " + st.dim(indentRest(res.Message, "    "))
			}
			fmt.Fprintln(&b, line)
		case Skipped:
			fmt.Fprintln(&b, st.skip("-")+" "+head+st.skip("skipped: "+indentRest(res.Message, "    ")))
		default:
			line := st.fail("✘") + " " + head + pad(times[i], timeW)
			if res.Message != "" {
				line += "  " + st.fail(indentRest(res.Message, "    "))
			}
			fmt.Fprintln(&b, line)
			for _, ev := range res.Evidence {
				fmt.Fprintln(&b, "    "+ev)
			}
			if len(res.LogTail) > 0 {
				fmt.Fprintln(&b, st.dim("    "+logTailTitle(res)+":"))
				for _, l := range res.LogTail {
					fmt.Fprintln(&b, st.dim("      "+l))
				}
			}
		}
	}
	style := st.pass
	if !rep.OK() {
		style = st.fail
	}
	fmt.Fprintln(&b, style(summary(rep)))
	_, err := io.WriteString(w, b.String())
	return err
}

// indentRest indents every line of s after the first, so that a multi-line message stays
// under its check.
func indentRest(s, indent string) string {
	return strings.ReplaceAll(s, "\n", "\n"+indent)
}

// logTailTitle introduces a failure's log lines.
func logTailTitle(res Result) string {
	if res.Service == "" {
		return "last log lines"
	}
	return "last log lines of " + res.Service
}

// --- JSON ---

// jsonReport is the Report with its counts and millisecond durations beside it; it
// unmarshals back into a Report.
type jsonReport struct {
	Suite      string       `json:"suite"`
	Target     string       `json:"target"`
	OK         bool         `json:"ok"`
	Passed     int          `json:"passed"`
	Failed     int          `json:"failed"`
	Skipped    int          `json:"skipped"`
	StartedAt  time.Time    `json:"started_at"`
	Duration   int64        `json:"duration_ns"`
	DurationMS float64      `json:"duration_ms"`
	Results    []jsonResult `json:"results"`
}

// jsonResult is a Result with its duration also in milliseconds.
type jsonResult struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Outcome    Outcome  `json:"outcome"`
	Duration   int64    `json:"duration_ns"`
	DurationMS float64  `json:"duration_ms"`
	Attempts   int      `json:"attempts"`
	Message    string   `json:"message,omitempty"`
	Evidence   []string `json:"evidence,omitempty"`
	Service    string   `json:"service,omitempty"`
	LogTail    []string `json:"log_tail,omitempty"`
}

// WriteJSON writes the report as indented JSON: the Report's fields (it unmarshals into a
// Report), plus ok, passed, failed, skipped and every duration also as duration_ms.
func WriteJSON(w io.Writer, rep *Report) error {
	rep = cleanReport(rep)
	passed, failed, skipped := rep.Counts()
	out := jsonReport{
		Suite: rep.Suite, Target: rep.Target, OK: rep.OK(),
		Passed: passed, Failed: failed, Skipped: skipped,
		StartedAt: rep.StartedAt, Duration: int64(rep.Duration), DurationMS: milliseconds(rep.Duration),
		Results: make([]jsonResult, len(rep.Results)),
	}
	for i, res := range rep.Results {
		out.Results[i] = jsonResult{
			ID: res.ID, Name: res.Name, Outcome: res.Outcome,
			Duration: int64(res.Duration), DurationMS: milliseconds(res.Duration), Attempts: res.Attempts,
			Message: res.Message, Evidence: res.Evidence, Service: res.Service, LogTail: res.LogTail,
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // evidence holds "<nil>" and "→"; this is not HTML
	return enc.Encode(out)
}

// --- JUnit ---

// junitClassname groups the checks in CI test views.
const junitClassname = "waooaw.verify"

// WriteJUnit writes the report as JUnit XML, the dialect GitHub, GitLab and Jenkins read (that
// of go-junit-report): one testsuite, a testcase per check named "<id>: <Name>", a failure
// whose message is the check's message and whose body is its evidence, the failing service's
// last log lines as the testcase's system-out, and a skipped element with the reason.
func WriteJUnit(w io.Writer, rep *Report) error {
	rep = cleanReport(rep)
	suite := junit.Testsuite{
		Name: suiteTitle(rep),
		Time: seconds(rep.Duration),
	}
	if !rep.StartedAt.IsZero() {
		suite.SetTimestamp(rep.StartedAt)
	}
	suite.AddProperty("suite", rep.Suite)
	if rep.Target != "" {
		suite.AddProperty("target", rep.Target)
	}
	for _, res := range rep.Results {
		tc := junit.Testcase{
			Name:      res.ID + ": " + res.Name,
			Classname: junitClassname,
			Time:      seconds(res.Duration),
		}
		switch res.Outcome {
		case Passed:
		case Skipped:
			tc.Skipped = &junit.Result{Message: res.Message}
		default:
			body := res.Evidence
			if len(body) == 0 {
				body = []string{res.Message}
			}
			tc.Failure = &junit.Result{Message: res.Message, Data: strings.Join(body, "\n")}
			if len(res.LogTail) > 0 {
				out := logTailTitle(res) + ":\n" + strings.Join(res.LogTail, "\n")
				tc.SystemOut = &junit.Output{Data: out}
			}
		}
		suite.AddTestcase(tc)
	}
	var suites junit.Testsuites
	suites.AddSuite(suite)
	suites.Time = suite.Time

	if _, err := io.WriteString(w, xmlHeader); err != nil {
		return err
	}
	return suites.WriteXML(w)
}

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// --- TAP ---

// WriteTAP writes the report as TAP version 14: a plan, "ok"/"not ok" per check with a YAML
// diagnostic block under each failure (message, service, evidence, log tail), and skips as
// "ok … # SKIP reason".
func WriteTAP(w io.Writer, rep *Report) error {
	rep = cleanReport(rep)
	var b strings.Builder
	fmt.Fprintln(&b, "TAP version 14")
	header := suiteTitle(rep)
	if rep.Target != "" {
		header += ": " + rep.Target
	}
	fmt.Fprintln(&b, "# "+oneLine(header))
	fmt.Fprintf(&b, "1..%d\n", len(rep.Results))
	for i, res := range rep.Results {
		desc := tapEscape(res.ID + ": " + res.Name)
		switch res.Outcome {
		case Passed:
			fmt.Fprintf(&b, "ok %d - %s\n", i+1, desc)
		case Skipped:
			fmt.Fprintf(&b, "ok %d - %s # SKIP %s\n", i+1, desc, oneLine(res.Message))
		default:
			fmt.Fprintf(&b, "not ok %d - %s\n", i+1, desc)
			writeTAPDiagnostic(&b, res)
		}
	}
	fmt.Fprintln(&b, "# "+summary(rep))
	_, err := io.WriteString(w, b.String())
	return err
}

// writeTAPDiagnostic writes a failure's YAML block. Every string is a JSON string, which is
// also a YAML double-quoted scalar, so no content can break the block.
func writeTAPDiagnostic(b *strings.Builder, res Result) {
	fmt.Fprintln(b, "  ---")
	fmt.Fprintf(b, "  message: %s\n", yamlString(res.Message))
	fmt.Fprintln(b, "  severity: fail")
	if res.Service != "" {
		fmt.Fprintf(b, "  service: %s\n", yamlString(res.Service))
	}
	fmt.Fprintf(b, "  attempts: %d\n", res.Attempts)
	fmt.Fprintf(b, "  duration_ms: %s\n", yamlFloat(milliseconds(res.Duration)))
	for _, list := range []struct {
		key   string
		lines []string
	}{{"evidence", res.Evidence}, {"log_tail", res.LogTail}} {
		if len(list.lines) == 0 {
			continue
		}
		fmt.Fprintf(b, "  %s:\n", list.key)
		for _, l := range list.lines {
			fmt.Fprintf(b, "    - %s\n", yamlString(l))
		}
	}
	fmt.Fprintln(b, "  ...")
}

func yamlString(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(buf.String(), "\n")
}

func yamlFloat(f float64) string {
	b, _ := json.Marshal(f) // finite: a duration
	return string(b)
}

// tapEscape escapes what TAP 14 reads as a directive or an escape in a description ('#'
// and '\'), and keeps it on one line.
func tapEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, "#", `\#`)
	return oneLine(s)
}

// oneLine joins the lines of s with spaces, for a line-oriented format.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\r", "")), " ")
}

// --- Markdown ---

// markdownResultWidth bounds a table cell's result; the full message is in "Failures".
const markdownResultWidth = 120

// WriteMarkdown writes the report as Markdown shaped like the seed's validation table: a
// heading, | Check | Status | Result | rows, the summary, then a "Failures" section with each
// failure's evidence and log lines in fenced blocks.
func WriteMarkdown(w io.Writer, rep *Report) error {
	rep = cleanReport(rep)
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n", mdInline(suiteTitle(rep)))
	if rep.Target != "" || !rep.StartedAt.IsZero() {
		var about []string
		if rep.Target != "" {
			about = append(about, "Target: "+mdInline(rep.Target))
		}
		if !rep.StartedAt.IsZero() {
			about = append(about, "started "+rep.StartedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
		}
		fmt.Fprintf(&b, "%s\n\n", strings.Join(about, " · "))
	}
	fmt.Fprintln(&b, "| Check | Status | Result |")
	fmt.Fprintln(&b, "|-------|--------|--------|")
	for _, res := range rep.Results {
		status := "✅ Pass"
		switch res.Outcome {
		case Failed:
			status = "❌ Fail"
		case Skipped:
			status = "⏭️ Skip"
		}
		fmt.Fprintf(&b, "| %s (%s) | %s | %s |\n",
			mdCell(res.Name), mdCode(res.ID), status, mdCell(truncate(oneLine(res.Message), markdownResultWidth)))
	}
	passed, _, _ := rep.Counts()
	pct := 0
	if n := len(rep.Results); n > 0 {
		pct = passed * 100 / n
	}
	fmt.Fprintf(&b, "\n**%s** (%d/%d passing, %d%%)\n", summary(rep), passed, len(rep.Results), pct)

	if rep.OK() {
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprint(&b, "\n### Failures\n")
	for _, res := range rep.Results {
		if res.Outcome != Failed {
			continue
		}
		fmt.Fprintf(&b, "\n#### %s (%s)\n\n", mdInline(res.Name), mdCode(res.ID))
		if res.Message != "" {
			fmt.Fprintf(&b, "%s\n\n", mdInline(res.Message))
		}
		fmt.Fprintf(&b, "Took %s", shortDuration(res.Duration))
		if res.Attempts > 1 {
			fmt.Fprintf(&b, " over %d attempts", res.Attempts)
		}
		fmt.Fprint(&b, ".\n")
		if len(res.Evidence) > 0 {
			fmt.Fprint(&b, "\nEvidence:\n\n")
			writeFenced(&b, res.Evidence)
		}
		if len(res.LogTail) > 0 {
			title := "Last log lines"
			if res.Service != "" {
				title += " of " + mdCode(res.Service)
			}
			fmt.Fprintf(&b, "\n%s:\n\n", title)
			writeFenced(&b, res.LogTail)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeFenced writes lines as a fenced block whose fence is longer than any run of
// backticks in them, so the content cannot close it.
func writeFenced(b *strings.Builder, lines []string) {
	text := strings.Join(lines, "\n")
	fence := strings.Repeat("`", max(3, longestRun(text, '`')+1))
	fmt.Fprintf(b, "%stext\n%s\n%s\n", fence, text, fence)
}

// mdCode is s as inline code, its fence longer than any backtick run inside.
func mdCode(s string) string {
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

func longestRun(s string, c rune) int {
	longest, run := 0, 0
	for _, r := range s {
		if r == c {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

// mdInline keeps text literal in a Markdown paragraph or heading: one line, and no raw HTML
// ("<nil>" would otherwise vanish).
func mdInline(s string) string {
	return strings.ReplaceAll(oneLine(s), "<", "&lt;")
}

// mdCell is mdInline for a table cell, where '|' would end the cell.
func mdCell(s string) string {
	return strings.ReplaceAll(mdInline(s), "|", `\|`)
}

// truncate shortens s to n runes, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
