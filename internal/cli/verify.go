package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/waooaw/waooaw/internal/stack"
	"github.com/waooaw/waooaw/internal/stack/logs"
	"github.com/waooaw/waooaw/internal/token"
	"github.com/waooaw/waooaw/internal/validate"
)

// verifyOptions are the flags of `waooaw verify`.
type verifyOptions struct {
	suite        string
	only, skip   []string
	retryTimeout time.Duration
	output       string
	reportJUnit  string
	reportJSON   string
	reportMD     string
	reportTAP    string
	cpURL        string
	ppURL        string
	gatewayURL   string
	backendURL   string
	databaseURL  string
	opaURL       string
	keyFile      string
	token        string
}

func newVerifyCmd(e *env) *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Run the end-to-end checks against the stack and report (exit 1 if any fails)",
		Long: `Run the ten end-to-end checks (SPEC §9) against the project's running stack — or against any
stack given by URL — and report them. --suite full adds the authenticated workflows, each on its
own fresh data, so runs repeat on the same stack. --suite security runs the attacker's checks
instead (forged and misplaced tokens, mixed roles, another tenant's ids, the backend's own port,
policy writes, identity headers, bad bytes, over-large headers); they need a key the stack
trusts. Tokens and secrets never appear in a report.

Exit 0 when every check passed, 1 when one failed, 2 when nothing would be checked (the selection
is empty, or every check skipped itself), 3 when no stack answers.`,
		Example: `  waooaw verify
  waooaw verify --suite full --report-junit verify.xml --report-markdown verify.md
  waooaw verify --retry-timeout 30s            # a stack that has just started
  waooaw verify --only auth-jwt,middleware-stack -o json
  waooaw verify --suite security --report-junit security.xml
  waooaw verify --cp-url https://cp.staging … --token "$STAGING_TOKEN"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVerify(cmd.Context(), e, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.suite, "suite", "smoke", "smoke (the ten checks), full (also the authenticated workflows) or security (the attacker's checks)")
	f.StringSliceVar(&o.only, "only", nil, "run only these check ids (repeatable or comma-separated)")
	f.StringSliceVar(&o.skip, "skip", nil, "skip these check ids")
	f.DurationVar(&o.retryTimeout, "retry-timeout", 0, "retry failing checks until this much time has passed")
	f.StringVarP(&o.output, "output", "o", "text", "text|json|junit|tap|markdown, on stdout")
	f.StringVar(&o.reportJUnit, "report-junit", "", "also write a JUnit XML report to this file")
	f.StringVar(&o.reportJSON, "report-json", "", "also write a JSON report to this file")
	f.StringVar(&o.reportMD, "report-markdown", "", "also write a Markdown report to this file")
	f.StringVar(&o.reportTAP, "report-tap", "", "also write a TAP report to this file")
	f.StringVar(&o.cpURL, "cp-url", "", "CP to check (default: the project's stack)")
	f.StringVar(&o.ppURL, "pp-url", "", "PP to check")
	f.StringVar(&o.gatewayURL, "gateway-url", "", "gateway to check")
	f.StringVar(&o.backendURL, "backend-url", "", "backend to check")
	f.StringVar(&o.databaseURL, "database-url", "", "PostgreSQL of the stack, for the database check (with service URLs, the check is skipped without it)")
	f.StringVar(&o.opaURL, "opa-url", "", "OPA of the stack, for the security suite's policy-writes check (with service URLs, the check is skipped without it)")
	f.StringVar(&o.keyFile, "key", "", "PEM private key the stack trusts (default: the project's key)")
	f.StringVar(&o.token, "token", "", "a token the stack accepts, when its key is not at hand (checks needing other roles are skipped)")
	return cmd
}

func runVerify(ctx context.Context, e *env, o *verifyOptions) error {
	switch o.output {
	case "text", "json", "junit", "tap", "markdown":
	default:
		return usageErr(fmt.Errorf("-o %q: use text, json, junit, tap or markdown", o.output))
	}
	if o.retryTimeout < 0 {
		return usageErr(fmt.Errorf("--retry-timeout must not be negative, got %v", o.retryTimeout))
	}
	opts := validate.Options{Suite: o.suite, Only: o.only, Skip: o.skip, RetryTimeout: o.retryTimeout}
	checks, err := validate.Select(opts)
	if err != nil {
		return usageErr(err)
	}
	if len(checks) == 0 {
		// A CI gate that checks nothing must not pass.
		return usageErr(errors.New("nothing would run: --only, --skip and --suite leave no check selected"))
	}
	target, name, err := verifyTarget(e, o)
	if err != nil {
		return err
	}
	opts.Target = name
	rep, err := validate.Run(ctx, target, opts)
	if err != nil {
		return usageErr(err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	colour := o.output == "text" && isTerminal(e.stdout) && e.getenv("NO_COLOR") == ""
	if err := validate.Write(e.stdout, o.output, rep, colour); err != nil {
		return err
	}
	for format, path := range map[string]string{"junit": o.reportJUnit, "json": o.reportJSON, "markdown": o.reportMD, "tap": o.reportTAP} {
		if path == "" {
			continue
		}
		if err := writeReportFile(path, format, rep); err != nil {
			return environmentErr(fmt.Errorf("write the %s report: %w", format, err))
		}
	}
	if rep.Unreachable() {
		hint := "is it running? see 'waooaw status', or start it with 'waooaw up'"
		if hasServiceURLs(o) {
			hint = "is it running, and are --cp-url, --pp-url, --gateway-url and --backend-url right?"
		}
		return environmentErr(fmt.Errorf("no stack answered at %s: %s", name, hint))
	}
	if !rep.OK() {
		return &exitError{exitFailed, errors.New("verification failed")}
	}
	if passed, _, _ := rep.Counts(); passed == 0 {
		// Every check skipped itself (no key, no --database-url…): nothing was verified.
		return usageErr(errors.New("nothing was verified: every selected check was skipped (see why above)"))
	}
	return nil
}

func writeReportFile(path, format string, rep *validate.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := validate.Write(f, format, rep, false); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// verifyTarget resolves what verify checks: the project's running stack, with any URL given by
// flag overriding its own. Without a running stack every URL must be given.
func verifyTarget(e *env, o *verifyOptions) (*validate.Target, string, error) {
	project, err := e.openProject()
	if err != nil {
		return nil, "", usageErr(err)
	}
	t := &validate.Target{CPURL: o.cpURL, PPURL: o.ppURL, GatewayURL: o.gatewayURL, BackendURL: o.backendURL, DatabaseURL: o.databaseURL, OPAURL: o.opaURL, Token: o.token}
	remote := hasServiceURLs(o)
	name := fmt.Sprintf("project %q", project.Name)

	st, alive, err := runningState(project)
	if err != nil {
		return nil, "", err
	}
	if alive {
		svcs, err := projectServices(project, st.PortOffset)
		if err != nil {
			return nil, "", err
		}
		fill := func(dst *string, svc string) {
			if *dst == "" {
				*dst = urlOf(svcs, svc)
			}
		}
		fill(&t.CPURL, stack.CP)
		fill(&t.PPURL, stack.PP)
		fill(&t.GatewayURL, stack.Gateway)
		fill(&t.BackendURL, stack.Backend)
		if !remote {
			fill(&t.OPAURL, stack.OPA)
		}
		// With service URLs given, the stack checked may be another one: only --database-url
		// names its database, else the check would pass against this project's.
		if t.DatabaseURL == "" && !remote {
			t.DatabaseURL = urlOf(svcs, stack.Postgres) + "?sslmode=disable&connect_timeout=2"
		}
		if !remote && st.Runtime == "docker" {
			if ds, err := openDockerStack(context.Background(), e, project, st.PortOffset, "never"); err == nil {
				t.Logs = func(service string, n int) []string {
					for _, s := range ds.svcs {
						if s.Name == service {
							return ds.rt.LogTail(s, n)
						}
					}
					return nil
				}
			}
		} else if !remote {
			t.Logs = func(service string, n int) []string { return logTail(project, service, n) }
		}
		name = fmt.Sprintf("project %q (%s runtime)", project.Name, st.Runtime)
	} else if !remote {
		return nil, "", environmentErr(fmt.Errorf("stack %q is not running: start it with 'waooaw up%s', or point verify at a stack with --cp-url, --pp-url, --gateway-url and --backend-url", project.Name, projectFlag(project)))
	}
	if remote {
		if t.CPURL == "" || t.PPURL == "" || t.GatewayURL == "" || t.BackendURL == "" {
			return nil, "", usageErr(errors.New("give all of --cp-url, --pp-url, --gateway-url and --backend-url (no local stack runs to fill the others in)"))
		}
		name = t.CPURL
	}

	switch {
	case o.keyFile != "":
		key, err := loadSigningKey(e, o.keyFile)
		if err != nil {
			return nil, "", err
		}
		t.Key = key
	case o.token != "":
		// The stack's key is not ours: checks needing other roles are skipped.
	default:
		key, err := project.LoadKey()
		if err == nil {
			t.Key = key
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, "", err
		}
	}
	if t.Token != "" {
		if _, _, err := token.ParseUnverified(t.Token); err != nil {
			return nil, "", usageErr(fmt.Errorf("--token: %w", err))
		}
	}
	return t, name, nil
}

// hasServiceURLs reports whether verify was given service URLs: the stack checked may then be
// another than the project's.
func hasServiceURLs(o *verifyOptions) bool {
	return o.cpURL != "" || o.ppURL != "" || o.gatewayURL != "" || o.backendURL != ""
}

// logTail returns a service's last n log lines from the local runtime's files.
func logTail(project *stack.Project, service string, n int) []string {
	entries, _, err := logs.NewFileSource(service, project.LogFile(service)).Read(context.Background(), logs.Options{Tail: n})
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(entries))
	for _, en := range entries {
		out = append(out, en.Raw)
	}
	return out
}
