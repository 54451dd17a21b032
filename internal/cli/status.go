package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/waooaw/waooaw/internal/stack"
)

func newStatusCmd(e *env) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each service's health, URL, process and restarts",
		Long: `Show each service's health (probed now), URL, process id, restarts and uptime.
Exit 0 when all are healthy, 1 when any is not, 3 when the stack is not running.`,
		Example: `  waooaw status
  waooaw status -o json | jq '.services[] | select(.state != "healthy")'
  eval "$(waooaw status -o env)"; curl "$WAOOAW_CP_URL/health"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" && output != "env" {
				return usageErr(fmt.Errorf("-o %q: use text, json or env", output))
			}
			return runStatus(cmd.Context(), e, output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text|json|env")
	return cmd
}

// statusReport is `status -o json`.
type statusReport struct {
	Project       string      `json:"project"`
	Runtime       string      `json:"runtime"`
	Healthy       bool        `json:"healthy"`
	PortOffset    int         `json:"port_offset"`
	SupervisorPID int         `json:"supervisor_pid,omitempty"`
	StartedAt     time.Time   `json:"started_at"`
	Services      []statusRow `json:"services"`
	Notes         []string    `json:"notes,omitempty"`
}

func runStatus(ctx context.Context, e *env, output string) error {
	project, err := e.openProject()
	if err != nil {
		return usageErr(err)
	}
	st, alive, err := runningState(project)
	if err != nil {
		return err
	}
	if !alive {
		return environmentErr(fmt.Errorf("stack %q is not running: start it with 'waooaw up%s'", project.Name, projectFlag(project)))
	}
	svcs, err := projectServices(project, st.PortOffset)
	if err != nil {
		return err
	}
	health := probeAll(ctx, svcs)
	// The state may have changed while we probed (a restart): read it again for pids.
	if fresh, err := project.ReadState(); err == nil {
		st = fresh
	}
	rep := statusReport{Project: project.Name, Runtime: st.Runtime, Healthy: true, PortOffset: st.PortOffset,
		SupervisorPID: st.Supervisor, StartedAt: st.StartedAt, Notes: st.Notes}
	now := time.Now()
	for _, s := range svcs {
		ss := st.Services[s.Name]
		// Passwords are masked in text and JSON, which end up in logs and tickets; -o env,
		// meant for eval, carries them.
		row := statusRow{Service: s.Name, State: "healthy", URL: s.DisplayURL(), PID: ss.PID, Restarts: ss.Restarts,
			Program: ss.Program, LastExit: ss.LastExit}
		if !ss.StartedAt.IsZero() {
			row.Uptime = now.Sub(ss.StartedAt).Truncate(time.Second).String()
		}
		if err := health[s.Name]; err != nil {
			rep.Healthy = false
			row.State = "unhealthy"
			if ss.PID == 0 {
				row.State = "restarting"
			}
			row.Detail = err.Error()
		}
		rep.Services = append(rep.Services, row)
	}

	if st.Runtime == "docker" {
		if err := dockerStatus(ctx, e, project, st, rep.Services); err != nil {
			return err
		}
		for _, r := range rep.Services {
			if r.State != "healthy" {
				rep.Healthy = false
			}
		}
	}
	switch output {
	case "json":
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	case "env":
		writeStatusEnv(e.stdout, project, rep, svcs)
	default:
		writeStatusText(e.stdout, rep, isTerminal(e.stdout) && e.getenv("NO_COLOR") == "")
	}
	if !rep.Healthy {
		return &exitError{exitFailed, errors.New("not every service is healthy: see 'waooaw logs SERVICE'")}
	}
	return nil
}

func writeStatusText(w io.Writer, rep statusReport, color bool) {
	p := &progress{color: color}
	docker := rep.Runtime == "docker"
	t := newTable(color, "SERVICE", "STATE", "URL", "PID", "RESTARTS", "UPTIME")
	if docker {
		t = newTable(color, "SERVICE", "STATE", "URL", "CONTAINER", "MEMORY", "RESTARTS", "UPTIME")
	}
	for _, r := range rep.Services {
		state := p.paint(styleOK, r.State)
		if r.State != "healthy" {
			state = p.paint(styleBad, r.State)
		}
		if docker {
			mem := "—"
			if r.MemoryMB > 0 {
				mem = fmt.Sprintf("%.1f MB", r.MemoryMB)
			}
			t.Row(r.Service, state, r.URL, r.Container, mem, fmt.Sprint(r.Restarts), r.Uptime)
			continue
		}
		pid := "—"
		if r.PID > 0 {
			pid = fmt.Sprint(r.PID)
		}
		t.Row(r.Service, state, r.URL, pid, fmt.Sprint(r.Restarts), r.Uptime)
	}
	if docker {
		fmt.Fprintf(w, "stack %q · docker runtime · port offset %d\n", rep.Project, rep.PortOffset)
	} else {
		fmt.Fprintf(w, "stack %q · %s runtime · supervisor pid %d · port offset %d\n", rep.Project, rep.Runtime, rep.SupervisorPID, rep.PortOffset)
	}
	fmt.Fprintln(w, t.Render())
	for _, r := range rep.Services {
		if r.Detail != "" {
			fmt.Fprintf(w, "%s: %s\n", r.Service, r.Detail)
		}
		if r.LastExit != "" && r.Restarts > 0 {
			fmt.Fprintf(w, "%s: restarted %d time(s); last exit %s\n", r.Service, r.Restarts, r.LastExit)
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintln(w, p.paint(styleDim, n))
	}
}

// writeStatusEnv prints shell assignments for scripts: eval "$(waooaw status -o env)". The
// URLs carry the project's passwords, and WAOOAW_OPA_TOKEN is OPA's management token.
func writeStatusEnv(w io.Writer, project *stack.Project, rep statusReport, svcs []stack.Service) {
	fmt.Fprintf(w, "WAOOAW_PROJECT=%s\n", shellQuote(project.Name))
	for _, s := range svcs {
		fmt.Fprintf(w, "WAOOAW_%s_URL=%s\n", strings.ToUpper(s.Name), shellQuote(s.URL()))
	}
	for _, s := range svcs {
		switch s.Name {
		case stack.Postgres:
			fmt.Fprintf(w, "DATABASE_URL=%s\n", shellQuote(s.URL()+"?sslmode=disable"))
		case stack.Redis:
			fmt.Fprintf(w, "REDIS_URL=%s\n", shellQuote(s.URL()))
		case stack.OPA:
			fmt.Fprintf(w, "OPA_URL=%s\n", shellQuote(s.URL()))
		}
	}
	if token, err := project.ReadSecret(stack.SecretOPAToken); err == nil {
		fmt.Fprintf(w, "WAOOAW_OPA_TOKEN=%s\n", shellQuote(token))
	}
	fmt.Fprintf(w, "WAOOAW_SIGNING_KEY=%s\n", shellQuote(project.KeyPath()))
	fmt.Fprintf(w, "JWT_PUBLIC_KEY=%s\n", shellQuote(project.PublicKeyPath()))
}

// projectServices resolves the services of the project's running stack, with the secrets it
// has (making none) for the probes and URLs.
func projectServices(project *stack.Project, portOffset int) ([]stack.Service, error) {
	secrets, err := project.Secrets()
	if err != nil {
		return nil, fmt.Errorf("the project's secrets: %w", err)
	}
	return stack.Services(stack.Config{PortOffset: portOffset, PublicKey: project.PublicKeyPath(), Secrets: secrets})
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/:.@_-?=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
