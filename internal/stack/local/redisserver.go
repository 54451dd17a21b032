package local

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/alicebob/miniredis/v2"
)

// RedisServer is the embedded Redis-protocol server (miniredis) the local runtime falls back
// to when redis-server is not on PATH. It keeps its data in memory only: when it stops, the
// budget and trial counters start again from zero. ListenRedis returns it already answering;
// Serve keeps it until the context is done.
type RedisServer struct {
	mr     *miniredis.Miniredis
	addr   *net.TCPAddr
	logger *slog.Logger
}

// ServeRedis runs the embedded Redis-protocol server on addr (e.g. "127.0.0.1:6379") until
// ctx is done, then closes it. It fails at once if addr cannot be bound; the error wraps the
// listener's, so errors.Is(err, syscall.EADDRINUSE) tells a taken port. A non-empty password
// is required (AUTH) before any other command, as redis-server's requirepass does.
func ServeRedis(ctx context.Context, addr, password string, logger *slog.Logger) error {
	s, err := ListenRedis(addr, password, logger)
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}

// ListenRedis binds addr and starts answering on it; port 0 picks a free port (see Addr).
// The caller must call Serve, which also closes the server. A nil logger discards messages.
// A non-empty password must be given with AUTH before any other command.
func ListenRedis(addr, password string, logger *slog.Logger) (*RedisServer, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mr := miniredis.NewMiniRedis()
	if password != "" {
		// Anyone on the machine can reach 127.0.0.1: without it they could reset the trial
		// and budget counters.
		mr.RequireAuth(password)
	}
	// miniredis otherwise counts TTLs down only when told to (FastForward), so the ledger's
	// counters would never expire; with ClockTTL they expire by the wall clock, as in Redis.
	mr.ClockTTL(true)
	if err := mr.StartAddr(addr); err != nil {
		return nil, fmt.Errorf("embedded Redis server: listen on %s: %w", addr, err)
	}
	s := &RedisServer{mr: mr, addr: mr.Server().Addr(), logger: logger}
	logger.Info("embedded Redis-protocol server listening (not redis-server); data is kept in memory only and lost when it stops",
		"addr", s.Addr(), "password", password != "")
	return s, nil
}

// Addr is the address the server is bound to, with the port chosen when addr asked for 0.
func (s *RedisServer) Addr() string {
	return s.addr.String()
}

// URL is the redis:// URL a client on this host reaches the server at, without the password.
func (s *RedisServer) URL() string {
	host := "127.0.0.1"
	if !s.addr.IP.IsUnspecified() {
		host = s.addr.IP.String()
	}
	return "redis://" + net.JoinHostPort(host, strconv.Itoa(s.addr.Port))
}

// Serve answers clients until ctx is done, then closes the server and every connection, and
// drops the data.
func (s *RedisServer) Serve(ctx context.Context) error {
	<-ctx.Done()
	s.mr.Close()
	s.logger.Info("embedded Redis-protocol server stopped", "addr", s.Addr())
	return nil
}
