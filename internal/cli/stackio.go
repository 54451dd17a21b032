package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"

	"github.com/waooaw/waooaw/internal/httpx"
	"github.com/waooaw/waooaw/internal/stack"
)

// openProject resolves -p/--project (else WAOOAW_PROJECT, else the default).
func (e *env) openProject() (*stack.Project, error) {
	return stack.OpenProject(e.project, e.getenv)
}

// isTerminal reports whether w is a terminal (colour, spinners and tables for people).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

func urlOf(svcs []stack.Service, name string) string {
	for _, s := range svcs {
		if s.Name == name {
			return s.URL()
		}
	}
	return ""
}

// probeAll checks every service's readiness at once; a nil entry is healthy.
func probeAll(ctx context.Context, svcs []stack.Service) map[string]error {
	out := make(map[string]error, len(svcs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range svcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			err := s.Probe.Check(pctx)
			mu.Lock()
			out[s.Name] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// progress renders the engine's events on stderr, one line per step that matters.
type progress struct {
	w     io.Writer
	color bool

	mu    sync.Mutex
	ready map[string]time.Duration
}

func newProgress(w io.Writer, color bool) *progress {
	return &progress{w: w, color: color, ready: map[string]time.Duration{}}
}

var (
	styleOK   = lipgloss.NewStyle().Foreground(lipgloss.Color("2"))
	styleBad  = lipgloss.NewStyle().Foreground(lipgloss.Color("1"))
	styleDim  = lipgloss.NewStyle().Foreground(lipgloss.Color("8"))
	styleBold = lipgloss.NewStyle().Bold(true)
)

func (p *progress) paint(s lipgloss.Style, text string) string {
	if !p.color {
		return text
	}
	return s.Render(text)
}

func (p *progress) event(ev stack.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev.Kind {
	case stack.EventStarting:
		fmt.Fprintf(p.w, "%s %-8s starting\n", p.paint(styleDim, "·"), ev.Service)
	case stack.EventReady:
		p.ready[ev.Service] = ev.Elapsed
		fmt.Fprintf(p.w, "%s %-8s healthy after %.2fs\n", p.paint(styleOK, "✔"), ev.Service, ev.Elapsed.Seconds())
	case stack.EventFailed:
		fmt.Fprintf(p.w, "%s %-8s failed: %s\n", p.paint(styleBad, "✘"), ev.Service, ev.Error)
	case stack.EventStopped:
		fmt.Fprintf(p.w, "%s %-8s stopped\n", p.paint(styleDim, "·"), ev.Service)
	}
}

func (p *progress) readyAfter(service string) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ready[service]
}

// statusRow is one service in `up` and `status` output.
type statusRow struct {
	Service  string        `json:"service"`
	State    string        `json:"state"`
	URL      string        `json:"url"`
	Ready    time.Duration `json:"-"`
	PID      int           `json:"pid,omitempty"`
	Restarts int           `json:"restarts"`
	Uptime   string        `json:"uptime,omitempty"`
	Program  string        `json:"program,omitempty"`
	Detail   string        `json:"detail,omitempty"`
	// Docker runtime only.
	Container string  `json:"container_id,omitempty"`
	MemoryMB  float64 `json:"memory_mb,omitempty"`
	LastExit  string  `json:"last_exit,omitempty"`
}

// renderUpTable prints the services `up` brought up: name, URL, time to healthy.
func renderUpTable(w io.Writer, rows []statusRow, color bool) {
	t := newTable(color, "SERVICE", "URL", "HEALTHY AFTER")
	for _, r := range rows {
		after := "—"
		if r.Ready > 0 {
			after = fmt.Sprintf("%.2fs", r.Ready.Seconds())
		}
		t.Row(r.Service, r.URL, after)
	}
	fmt.Fprintln(w, t.Render())
}

// newTable is a borderless lipgloss table: readable in a terminal, plain enough to grep.
func newTable(color bool, headers ...string) *table.Table {
	t := table.New().Headers(headers...).
		Border(lipgloss.HiddenBorder()).BorderTop(false).BorderBottom(false).BorderLeft(false).BorderRight(false).
		BorderHeader(false).BorderColumn(false).
		StyleFunc(func(row, _ int) lipgloss.Style {
			s := lipgloss.NewStyle().PaddingRight(2)
			if row == table.HeaderRow && color {
				s = s.Inherit(styleBold)
			}
			return s
		})
	return t
}

// supervisorLogger is the supervisor's own log: JSON lines to w.
func supervisorLogger(project *stack.Project, w io.Writer) (*slog.Logger, error) {
	logger, err := httpx.NewLogger(w, "info", "supervisor")
	if err != nil {
		return nil, err
	}
	return logger.With("project", project.Name), nil
}

func dirExists(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}
