package redistest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestServerStopStart(t *testing.T) {
	s := New(t)
	if !strings.HasPrefix(s.URL(), "redis://") || !strings.Contains(s.URL(), s.Addr()) {
		t.Fatalf("URL() = %q, want a redis:// URL of Addr() %q", s.URL(), s.Addr())
	}
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("server not answering after New: %v", err)
	}
	rdb := client(t, s)
	ctx := context.Background()
	key := s.Prefix() + "k"
	if err := rdb.Set(ctx, key, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	s.Stop(t)
	if err := ping(s.Addr()); err == nil {
		t.Fatal("server still answers PING after Stop")
	}
	s.Stop(t) // stopping a stopped server is harmless

	s.Start(t)
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("server not answering after Start: %v", err)
	}
	// No persistence: a restart forgets everything.
	if n, err := rdb.Exists(ctx, key).Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS %s after restart = %d, %v; want 0 (no persistence)", key, n, err)
	}
}

func TestServersAreIsolated(t *testing.T) {
	a, b := New(t), New(t)
	if a.Prefix() == b.Prefix() {
		t.Fatalf("two servers share the prefix %q", a.Prefix())
	}
	if a.bin != "" && a.Addr() == b.Addr() {
		t.Fatalf("two private servers share the address %s", a.Addr())
	}
}

func TestCleanupStopsServer(t *testing.T) {
	var addr string
	private := false
	t.Run("inner", func(t *testing.T) {
		s := New(t)
		addr, private = s.Addr(), s.bin != ""
	})
	if !private {
		t.Skip("the server from " + URLEnv + " is not ours to stop")
	}
	if err := ping(addr); err == nil {
		t.Fatalf("redis-server on %s still answers after its test ended", addr)
	}
}

func TestMissingRedisServer(t *testing.T) {
	tests := []struct {
		ci       string
		wantSkip bool
	}{
		{ci: "", wantSkip: true},
		{ci: "true", wantSkip: false},
	}
	for _, tt := range tests {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("PATH", t.TempDir())
			t.Setenv(URLEnv, "")
			t.Setenv("CI", tt.ci)

			rec := &recordingTB{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				New(rec)
				rec.msg = "New returned"
			}()
			<-done

			if rec.skipped != tt.wantSkip || rec.failed == tt.wantSkip {
				t.Fatalf("skipped=%v failed=%v (%q), want skipped=%v", rec.skipped, rec.failed, rec.msg, tt.wantSkip)
			}
			if !strings.Contains(rec.msg, installHint) {
				t.Fatalf("message %q lacks the install hint", rec.msg)
			}
		})
	}
}

// recordingTB records a Skip or Fatal instead of ending the real test.
type recordingTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Skip(args ...any) {
	r.skipped, r.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}
func (r *recordingTB) Skipf(format string, args ...any) { r.Skip(fmt.Sprintf(format, args...)) }
func (r *recordingTB) Fatal(args ...any) {
	r.failed, r.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}
func (r *recordingTB) Fatalf(format string, args ...any) { r.Fatal(fmt.Sprintf(format, args...)) }

func client(t *testing.T, s *Server) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}
