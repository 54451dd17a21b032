package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/waooaw/waooaw/internal/httpx"
)

// auditRow is one API request as gateway_audit_logs records it.
type auditRow struct {
	occurredAt    time.Time
	correlationID string
	method, path  string
	route         string
	permission    string
	status        int
	outcome       string
	layer         string
	reason        string
	userID        string
	customerID    string
	roles         []string
	gatewayType   string
	targetBackend string
	clientIP      string
	totalMS       float64
	upstreamMS    *float64
}

var auditColumns = []string{"occurred_at", "correlation_id", "method", "path", "route", "permission",
	"status_code", "outcome", "layer", "reason", "user_id", "customer_id", "roles", "gateway_type",
	"target_backend", "client_ip", "total_ms", "upstream_ms"}

// values is the row as COPY sends it. Every text is escaped (auditText): what a client sent may
// hold bytes PostgreSQL refuses, and a row refused for them would be lost, so that a probe with
// a bad path would leave no trace.
func (a auditRow) values() []any {
	roles := make([]string, len(a.roles))
	for i, r := range a.roles {
		roles[i] = auditText(r)
	}
	return []any{a.occurredAt, auditText(a.correlationID), auditText(a.method), auditText(a.path),
		nullable(a.route), nullable(a.permission), a.status, a.outcome, nullable(a.layer), nullable(a.reason),
		nullable(a.userID), nullable(a.customerID), roles, auditText(a.gatewayType), nullable(a.targetBackend),
		nullable(a.clientIP), a.totalMS, a.upstreamMS}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return auditText(s)
}

// auditText makes s storable and unambiguous: NUL and the other ASCII controls, DEL, the bytes
// of invalid UTF-8, and '%' itself are written %XX, as in a URL, so the recorded text always
// decodes back to exactly the bytes received. Everything else, valid non-ASCII included, is kept.
func auditText(s string) string {
	clean := true
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if mustEscape(r, size) {
			clean = false
			break
		}
		i += size
	}
	if clean {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !mustEscape(r, size) {
			b.WriteString(s[i : i+size])
			i += size
			continue
		}
		for _, c := range []byte(s[i : i+size]) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0x0f])
		}
		i += size
	}
	return b.String()
}

// mustEscape reports whether the rune r, decoded from size bytes, is escaped by auditText.
func mustEscape(r rune, size int) bool {
	return (r == utf8.RuneError && size <= 1) || r < 0x20 || r == 0x7f || r == '%'
}

// auditLog writes audit rows asynchronously in batches through a bounded queue: the request
// path never waits for the database. A full queue or an unreachable database drops rows and
// counts them; a bad row is dropped alone, never blocking the rows behind it.
//
// The writer is woken when a batch is queued or on the tick, never per row: waking it for
// every request cost each one a goroutine switch.
type auditLog struct {
	pool    *pgxpool.Pool // nil: auditing is off
	rows    chan auditRow
	full    chan struct{} // a batch is queued: write it without waiting for the tick
	logger  *slog.Logger
	written prometheus.Counter
	dropped prometheus.Counter
	done    chan struct{}
}

const (
	auditQueue = 8192
	auditBatch = 500
	auditEvery = 250 * time.Millisecond
)

func newAuditLog(pool *pgxpool.Pool, logger *slog.Logger, m *gatewayMetrics) *auditLog {
	return &auditLog{
		pool: pool, rows: make(chan auditRow, auditQueue), full: make(chan struct{}, 1), logger: logger,
		written: m.audit.WithLabelValues("written"), dropped: m.audit.WithLabelValues("dropped"),
		done: make(chan struct{}),
	}
}

// record queues a row, or drops it when the queue is full.
func (a *auditLog) record(row auditRow) {
	if a.pool == nil {
		return
	}
	select {
	case a.rows <- row:
		if len(a.rows) >= auditBatch {
			select {
			case a.full <- struct{}{}:
			default: // already signalled
			}
		}
	default:
		a.dropped.Inc()
	}
}

// run writes queued rows until ctx ends, then flushes what is left (bounded) and returns.
func (a *auditLog) run(ctx context.Context) {
	defer close(a.done)
	if a.pool == nil {
		return
	}
	tick := time.NewTicker(auditEvery)
	defer tick.Stop()
	batch := make([]auditRow, 0, auditBatch)
	for {
		select {
		case <-a.full:
		case <-tick.C:
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			a.writeQueued(fctx, batch)
			cancel()
			return
		}
		a.writeQueued(ctx, batch)
	}
}

// writeQueued writes the rows queued now, in batches of at most auditBatch, using batch as
// its buffer.
func (a *auditLog) writeQueued(ctx context.Context, batch []auditRow) {
	for {
		batch = batch[:0]
	fill:
		for len(batch) < auditBatch {
			select {
			case row := <-a.rows:
				batch = append(batch, row)
			default:
				break fill
			}
		}
		if len(batch) == 0 {
			return
		}
		a.write(ctx, batch)
		if len(batch) < auditBatch {
			return
		}
	}
}

// write copies a batch in; if the batch fails for a reason other than the database being
// gone, the rows are inserted one by one so a bad row costs only itself.
func (a *auditLog) write(ctx context.Context, batch []auditRow) {
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	n, err := a.pool.CopyFrom(wctx, pgx.Identifier{"gateway_audit_logs"}, auditColumns,
		pgx.CopyFromSlice(len(batch), func(i int) ([]any, error) { return batch[i].values(), nil }))
	if err == nil {
		a.written.Add(float64(n))
		return
	}
	if unreachable(err) {
		a.dropped.Add(float64(len(batch)))
		a.logger.Warn("audit rows dropped: database unreachable", "rows", len(batch), "error", err)
		return
	}
	for _, row := range batch {
		_, err := a.pool.CopyFrom(wctx, pgx.Identifier{"gateway_audit_logs"}, auditColumns, pgx.CopyFromRows([][]any{row.values()}))
		if err != nil {
			a.dropped.Inc()
			a.logger.Warn("audit row dropped", "correlation_id", row.correlationID, "error", err)
			continue
		}
		a.written.Inc()
	}
}

func unreachable(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) || pgconnUnreachable(err)
}

// audit is the middleware that opens the exchange of an API request and, once it is answered,
// records the audit row and the decision metric.
func (s *Server) audit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := newExchange(r)
		x.gatewayType = s.portalOf(r)
		// The portals' secret has done its work: nothing after this needs to see it.
		r.Header.Del(httpx.HeaderPortalSecret)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(withExchange(r.Context(), x)))
		if x.layer == "" {
			x.decided("route", "denied", "no such route")
		}
		if rec.status >= 500 && x.outcome == "allowed" {
			x.outcome = "error"
		}
		s.metrics.decisions.WithLabelValues(x.layer, x.outcome).Inc()
		row := auditRow{
			occurredAt:    x.start,
			correlationID: httpx.CorrelationID(r.Context()),
			method:        r.Method,
			path:          httpx.ClientPath(r),
			status:        rec.status,
			outcome:       x.outcome,
			layer:         x.layer,
			reason:        x.reason,
			gatewayType:   x.gatewayType,
			targetBackend: x.target,
			clientIP:      clientIP(r),
			totalMS:       float64(time.Since(x.start).Microseconds()) / 1000,
		}
		if x.route != nil {
			row.route, row.permission = x.route.Path, x.route.Permission
		}
		if x.claims != nil {
			row.userID, row.customerID, row.roles = x.claims.UserID, x.claims.CustomerID, x.claims.Roles
		}
		if ms := x.timings[layerUpstream]; ms >= 0 {
			row.upstreamMS = &ms
		}
		s.auditLog.record(row)
	})
}

// portalOf names the portal a request came through: CP or PP as its X-Gateway-Type says, but
// only when it carries the portals' secret (PORTAL_SECRET); anything else, a client's own
// X-Gateway-Type included, is direct. Without a configured secret every request is direct.
func (s *Server) portalOf(r *http.Request) string {
	if !httpx.PortalSecretMatches(r.Header.Get(httpx.HeaderPortalSecret), s.cfg.PortalSecret) {
		return "direct"
	}
	switch strings.ToUpper(r.Header.Get("X-Gateway-Type")) {
	case "CP":
		return "CP"
	case "PP":
		return "PP"
	}
	return "direct"
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// statusRecorder remembers the status written, and unwraps for http.ResponseController so
// the proxy can still flush event streams through it.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// auditHeaderRefusal audits the 431 that the server answers, before any route runs, to an API
// request whose headers are too large: every API request leaves its row, refused ones included.
func (s *Server) auditHeaderRefusal(refuse http.Handler) http.Handler {
	audited := s.audit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		exchangeFrom(r.Context()).decided("limits", "denied", "request headers too large")
		refuse.ServeHTTP(w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == "/api" || strings.HasPrefix(p, "/api/") {
			audited.ServeHTTP(w, r)
			return
		}
		refuse.ServeHTTP(w, r)
	})
}
