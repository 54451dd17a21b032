package httpx

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestNewLoggerLevel(t *testing.T) {
	tests := []struct {
		level     string
		wantDebug bool
		wantInfo  bool
	}{
		{level: "", wantInfo: true},
		{level: "info", wantInfo: true},
		{level: "DEBUG", wantDebug: true, wantInfo: true},
		{level: "warn"},
		{level: "error"},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			sink := &logSink{}
			logger, err := NewLogger(sink, tt.level, "svc")
			if err != nil {
				t.Fatalf("NewLogger(%q): %v", tt.level, err)
			}
			logger.Debug("d")
			logger.Info("i")
			if got := len(sink.withMsg(t, "d")) == 1; got != tt.wantDebug {
				t.Errorf("debug logged = %v, want %v", got, tt.wantDebug)
			}
			if got := len(sink.withMsg(t, "i")) == 1; got != tt.wantInfo {
				t.Errorf("info logged = %v, want %v", got, tt.wantInfo)
			}
		})
	}
}

func TestNewLoggerRejectsBadLevel(t *testing.T) {
	_, err := NewLogger(&logSink{}, "verbose", "svc")
	if err == nil || !strings.Contains(err.Error(), "LOG_LEVEL") || !strings.Contains(err.Error(), "verbose") {
		t.Fatalf("err = %v, want one naming LOG_LEVEL and the bad value", err)
	}
}

func TestLoggerRedactsSecrets(t *testing.T) {
	const secret = "eyJhbGciOiJSUzI1NiJ9.secret"
	tests := []struct {
		key      string
		redacted bool
	}{
		{"token", true},
		{"Authorization", true},
		{"password", true},
		{"SECRET", true},
		{"key", true},
		{"jwt", true},
		{"access_token", true},
		{"x-api-key", true},
		{"jwt_secret", true},
		{"token_count", false},
		{"keyboard", false},
		{"user", false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			logger, sink := newTestLogger(t)
			logger.Info("m", slog.String(tt.key, secret))
			rec := sink.records(t)[0]
			if got := rec[tt.key]; (got == redacted) != tt.redacted {
				t.Errorf("%s logged as %v, want redacted=%v", tt.key, got, tt.redacted)
			}
			if tt.redacted && strings.Contains(sink.String(), secret) {
				t.Errorf("secret in log: %s", sink)
			}
		})
	}
}

func TestLoggerRedactsInsideGroups(t *testing.T) {
	logger, sink := newTestLogger(t)
	logger.Info("m", slog.Group("request", slog.String("authorization", "Bearer abc.def")))
	if strings.Contains(sink.String(), "abc.def") {
		t.Errorf("secret in log: %s", sink)
	}
}

func TestLoggerAddsContextIDs(t *testing.T) {
	logger, sink := newTestLogger(t)
	ctx := WithCorrelationID(context.Background(), "corr-1")
	ctx = context.WithValue(ctx, traceKey, traceContext{traceID: "4bf92f3577b34da6a3ce929d0e0e4736", parentID: "00f067aa0ba902b7", flags: "01"})

	logger.InfoContext(ctx, "with ctx")
	logger.Info("without ctx")
	logger.InfoContext(ctx, "explicit", slog.String("correlation_id", "corr-1"))
	logger.With(slog.String("correlation_id", "corr-1")).InfoContext(ctx, "bound")

	recs := sink.records(t)
	if len(recs) != 4 {
		t.Fatalf("got %d records, want 4:\n%s", len(recs), sink)
	}
	with := recs[0]
	if with["correlation_id"] != "corr-1" || with["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" || with["service"] != "test" {
		t.Errorf("record = %v, want correlation_id, trace_id and service", with)
	}
	if _, ok := recs[1]["correlation_id"]; ok {
		t.Errorf("record without context has correlation_id: %v", recs[1])
	}
	lines := strings.Split(strings.TrimSpace(sink.String()), "\n")
	for _, line := range lines[2:] {
		if n := strings.Count(line, `"correlation_id"`); n != 1 {
			t.Errorf("correlation_id appears %d times in %s", n, line)
		}
	}
}
