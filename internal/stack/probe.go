package stack

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Probe tells whether a service is ready, from the host. Check returns nil when it is, or an
// error saying what it saw.
type Probe interface {
	Check(ctx context.Context) error
}

// probeClient is shared by HTTP probes: no keep-alive, so a probe never holds a connection
// that outlives the service it checked.
var probeClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}

// HTTPProbe is ready when GET URL answers 200.
type HTTPProbe struct{ URL string }

// Check implements Probe.
func (p HTTPProbe) Check(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL, nil)
	if err != nil {
		return err
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", p.URL, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", p.URL, resp.Status, summarise(body))
	}
	return nil
}

// unwrapURLError drops the "Get URL:" prefix net/http adds, since our message names the URL.
func unwrapURLError(err error) error {
	if ue, ok := err.(interface{ Unwrap() error }); ok {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// summarise turns a health body into one short line: the JSON members that say what is wrong.
func summarise(body []byte) string {
	var doc map[string]any
	if json.Unmarshal(body, &doc) == nil {
		var parts []string
		for _, k := range []string{"status", "detail", "database", "backend", "opa", "redis", "gateway"} {
			if v, ok := doc[k]; ok {
				parts = append(parts, fmt.Sprintf("%s=%v", k, v))
			}
		}
		if len(parts) > 0 {
			return strings.Join(parts, " ")
		}
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// PostgresProbe is ready when a connection to URL answers a ping.
type PostgresProbe struct{ URL string }

// Check implements Probe.
func (p PostgresProbe) Check(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, p.URL)
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", pgConnectError(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return conn.Ping(ctx)
}

// pgConnectError keeps the part of pgx's error a person can act on, without the password.
func pgConnectError(err error) error {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.Contains(msg, "failed to connect") {
		return fmt.Errorf("%s", msg[i+2:])
	}
	return err
}

// RedisProbe is ready when the server at Addr accepts Password (when set) and answers PING
// with PONG.
type RedisProbe struct{ Addr, Password string }

// Check implements Probe.
func (p RedisProbe) Check(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.Addr)
	if err != nil {
		return fmt.Errorf("redis PING: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	}
	var cmds []byte
	if p.Password != "" {
		cmds = fmt.Appendf(cmds, "*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n", len(p.Password), p.Password)
	}
	cmds = append(cmds, "*1\r\n$4\r\nPING\r\n"...)
	if _, err := conn.Write(cmds); err != nil {
		return fmt.Errorf("redis PING: %w", err)
	}
	r := bufio.NewReader(conn)
	if p.Password != "" {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("redis AUTH: %w", err)
		}
		// The answer quotes no part of the password: it is Redis's own error text.
		if strings.TrimSpace(line) != "+OK" {
			return fmt.Errorf("redis AUTH answered %q", strings.TrimSpace(line))
		}
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("redis PING: %w", err)
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("redis PING answered %q", strings.TrimSpace(line))
	}
	return nil
}
