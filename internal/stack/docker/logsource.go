package docker

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/waooaw/waooaw/internal/stack/logs"
)

// LogSource reads one service's container log through the Engine API, for `waooaw logs`: the
// same entries, filters and rendering as the local runtime's files.
type LogSource struct {
	API     API
	Project string
	Name    string
}

// Service implements logs.Source.
func (s *LogSource) Service() string { return s.Name }

// Read implements logs.Source.
func (s *LogSource) Read(ctx context.Context, opts logs.Options) ([]logs.Entry, logs.FollowFunc, error) {
	lo := LogOptions{Tail: "all"}
	if opts.Tail >= 0 && opts.CorrelationID == "" {
		lo.Tail = strconv.Itoa(opts.Tail) // with a filter the tail counts matches: read all
	}
	if !opts.Since.IsZero() {
		lo.Since = opts.Since.UTC().Format(time.RFC3339Nano)
	}
	rc, err := s.API.ContainerLogs(ctx, ContainerName(s.Project, s.Name), lo)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, nil, nil // no container: nothing logged
		}
		return nil, nil, err
	}
	var backlog []logs.Entry
	var last time.Time
	err = scanEntries(rc, s.Name, func(e logs.Entry, at time.Time) {
		last = at
		if opts.Match(e) {
			backlog = append(backlog, e)
		}
	})
	rc.Close()
	if err != nil {
		return nil, nil, err
	}
	if opts.Tail >= 0 && len(backlog) > opts.Tail {
		backlog = backlog[len(backlog)-opts.Tail:]
	}
	if !opts.Follow {
		return backlog, nil, nil
	}
	follow := func(ctx context.Context, emit func(logs.Entry)) error {
		fo := LogOptions{Follow: true, Tail: "all"}
		if !last.IsZero() {
			fo.Since = last.Add(time.Nanosecond).UTC().Format(time.RFC3339Nano)
		} else if !opts.Since.IsZero() {
			fo.Since = lo.Since
		} else {
			fo.Tail = "0"
		}
		rc, err := s.API.ContainerLogs(ctx, ContainerName(s.Project, s.Name), fo)
		if err != nil {
			return nil
		}
		go func() { <-ctx.Done(); rc.Close() }()
		scanEntries(rc, s.Name, func(e logs.Entry, at time.Time) {
			if at.After(last) && opts.Match(e) {
				emit(e)
			}
		})
		return nil
	}
	return backlog, follow, nil
}

// scanEntries parses "TIMESTAMP line" records as the Engine API sends them with timestamps.
func scanEntries(r io.Reader, service string, fn func(logs.Entry, time.Time)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), logs.MaxLineBytes+64)
	for sc.Scan() {
		line := sc.Text()
		ts, rest, _ := strings.Cut(line, " ")
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			rest = line
		}
		if strings.TrimSpace(rest) == "" {
			continue
		}
		e := logs.Parse(rest)
		if e.Time.IsZero() {
			e.Time = at
		}
		if e.Service == "" {
			e.Service = service
		}
		fn(e, at)
	}
	return sc.Err()
}
