package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultResponseHeaderTimeout is how long a proxy waits for an upstream's
// response headers unless ProxyConfig says otherwise (SPEC §4.6).
const DefaultResponseHeaderTimeout = 30 * time.Second

// DefaultUntrustedHeaderPrefixes are the request headers a proxy removes from
// what the client sent: the identity and forwarding headers the next hop
// believes, which only a proxy may set (SPEC §4.7), and the portals' secret,
// which must never travel further than the hop it authenticates.
func DefaultUntrustedHeaderPrefixes() []string {
	return []string{"X-User-", "X-Customer-", "X-Gateway-", "X-Forwarded-", "X-Real-Ip", "Forwarded", HeaderPortalSecret}
}

// ProxyConfig configures a reverse proxy to one upstream.
type ProxyConfig struct {
	// Upstream is the http or https URL requests go to. Its path, if any, is
	// prefixed to the request's path.
	Upstream *url.URL
	// Transport sends the requests; nil means NewTransport(64).
	Transport http.RoundTripper
	// ResponseHeaderTimeout bounds the wait for the upstream's response
	// headers, counted from when the request body has been sent (so a slow
	// upload is not taken for a slow upstream). 0 means
	// DefaultResponseHeaderTimeout. An upstream slower than this is answered
	// with a 504 gateway-timeout problem.
	ResponseHeaderTimeout time.Duration
	// UntrustedHeaderPrefixes are request header name prefixes, matched
	// case-insensitively, removed from the client's request before Rewrite
	// runs. Empty means DefaultUntrustedHeaderPrefixes. When the list leaves
	// the forwarding headers (X-Forwarded-For, X-Forwarded-Host,
	// X-Forwarded-Proto, Forwarded) trusted, the client's values are kept and
	// X-Forwarded-For gets the client's address appended, as a proxy behind
	// another proxy should.
	UntrustedHeaderPrefixes []string
	// Rewrite makes extra per-request changes (identity headers, the path)
	// after the defaults. It may be nil.
	Rewrite func(*httputil.ProxyRequest)
	// ModifyResponse changes the upstream's response before it is copied to
	// the client; an error is answered with a 502 problem. It may be nil.
	ModifyResponse func(*http.Response) error
	// Logger receives upstream failures; nil discards them.
	Logger *slog.Logger
}

// Proxy is a reverse proxy to one upstream, made by NewProxy. The embedded
// ReverseProxy may be adjusted (ErrorHandler, say) before the first request.
type Proxy struct {
	*httputil.ReverseProxy
}

// ServeHTTP proxies r. Every write of the response body is flushed to the
// client at once, so a stream is never held back in the proxy. The flushing
// is done here, on the writer, rather than with ReverseProxy's FlushInterval
// of -1, because that also starts a timer that flushes the headers on their
// own before the first body byte is copied: every small response cost an
// extra write, and its client an extra read. ReverseProxy still flushes the
// headers at once where it always does whatever FlushInterval says, for event
// streams and bodies of unknown length.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.ReverseProxy.ServeHTTP(&flushingWriter{ResponseWriter: w, rc: http.NewResponseController(w)}, r)
}

// flushingWriter flushes after every write. It unwraps for
// http.ResponseController, so the proxy can still hijack an upgraded
// connection through it.
type flushingWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
}

func (w *flushingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	if err == nil {
		// A failed flush is not reported, as ReverseProxy's own flushing does
		// not: the connection is gone, and the next write says so.
		_ = w.rc.Flush()
	}
	return n, err
}

func (w *flushingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// copyBufferSize is the size of the buffers bodies are copied through, the
// size ReverseProxy allocates for every response when it has no BufferPool.
const copyBufferSize = 32 << 10

// bufferPool recycles a proxy's copy buffers: allocating and zeroing 32 KiB
// per response was half of what a proxied request allocated.
type bufferPool struct{ pool sync.Pool }

// NewBufferPool returns a pool of the buffers a proxy copies bodies through,
// the one NewProxy gives each proxy. It is exported so that a benchmark's
// yardstick, a plain httputil.ReverseProxy, can recycle its buffers too.
func NewBufferPool() httputil.BufferPool { return newBufferPool() }

func newBufferPool() *bufferPool {
	return &bufferPool{pool: sync.Pool{New: func() any {
		b := make([]byte, copyBufferSize)
		return &b
	}}}
}

func (p *bufferPool) Get() []byte { return *p.pool.Get().(*[]byte) }

func (p *bufferPool) Put(b []byte) {
	if cap(b) == copyBufferSize {
		b = b[:copyBufferSize]
		p.pool.Put(&b)
	}
}

// NewProxy returns a reverse proxy to cfg.Upstream (SPEC §4.7). On the way up
// it removes hop-by-hop headers (ReverseProxy does) and the client's
// untrusted headers, sets X-Forwarded-For to the client's address and
// X-Forwarded-Host/Proto to what the client asked for, sends the upstream's
// own Host, and passes on the correlation id and a child traceparent from the
// request context (see Correlation). Bodies stream both ways unbuffered;
// every write is flushed at once, so event streams work (see
// Proxy.ServeHTTP). Repeated headers such as Set-Cookie come back intact.
//
// When the upstream cannot be reached or answers too slowly, the client gets
// a bad-gateway (502) or gateway-timeout (504) problem whose detail names no
// internal address and no Go error; the error itself is logged with the
// correlation id. A client that went away gets nothing and is logged at debug
// level.
func NewProxy(cfg ProxyConfig) (*Proxy, error) {
	if err := checkUpstream(cfg.Upstream); err != nil {
		return nil, err
	}
	if cfg.ResponseHeaderTimeout < 0 {
		return nil, fmt.Errorf("proxy to %s: response header timeout must not be negative, got %s", cfg.Upstream.Redacted(), cfg.ResponseHeaderTimeout)
	}
	timeout := cfg.ResponseHeaderTimeout
	if timeout == 0 {
		timeout = DefaultResponseHeaderTimeout
	}
	var transport http.RoundTripper = NewTransport(64)
	if cfg.Transport != nil {
		transport = cfg.Transport
	}
	untrusted := cfg.UntrustedHeaderPrefixes
	if len(untrusted) == 0 {
		untrusted = DefaultUntrustedHeaderPrefixes()
	}
	untrusted = append([]string(nil), untrusted...) // the caller's slice may change later
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	upstream := *cfg.Upstream

	return &Proxy{&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(&upstream)
			stripHeaders(pr.Out.Header, untrusted)
			forward(pr, untrusted)
			SetOutboundHeaders(pr.In.Context(), pr.Out.Header)
			// Remember the client's path: an error answered for the outbound
			// request must name the path the client asked for, not the
			// upstream's.
			pr.Out = withClientPath(pr.Out, ClientPath(pr.In))
			if cfg.Rewrite != nil {
				cfg.Rewrite(pr)
			}
		},
		Transport:  headerTimeoutTransport{next: transport, timeout: timeout},
		BufferPool: newBufferPool(),
		ErrorLog:   slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		ModifyResponse: func(res *http.Response) error {
			if CorrelationID(res.Request.Context()) != "" {
				// Correlation has already put the id on the response; the
				// upstream's echo of it would repeat the header.
				res.Header.Del(HeaderCorrelationID)
			}
			if res.StatusCode == http.StatusRequestHeaderFieldsTooLarge && !isProblem(res.Header) {
				// Go's server answers headers over its hard limit itself, in
				// plain text; the client gets a problem like every other error.
				return errUpstreamHeadersTooLarge
			}
			if cfg.ModifyResponse != nil {
				return cfg.ModifyResponse(res)
			}
			return nil
		},
		ErrorHandler: proxyErrorHandler(logger, upstream.Host),
	}}, nil
}

func checkUpstream(u *url.URL) error {
	if u == nil {
		return errors.New("proxy: no upstream URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("proxy: upstream %q must be an http:// or https:// URL with a host", u.Redacted())
	}
	return nil
}

// stripHeaders deletes every header whose name starts with one of prefixes,
// ignoring case.
func stripHeaders(h http.Header, prefixes []string) {
	for name := range h {
		if hasPrefixFold(name, prefixes) {
			delete(h, name)
		}
	}
}

func hasPrefixFold(name string, prefixes []string) bool {
	for _, p := range prefixes {
		if len(name) >= len(p) && strings.EqualFold(name[:len(p)], p) {
			return true
		}
	}
	return false
}

// forward sets the forwarding headers. ReverseProxy has removed the client's
// before Rewrite; those the configuration trusts are restored from the
// inbound request.
func forward(pr *httputil.ProxyRequest, untrusted []string) {
	const xff = "X-Forwarded-For"
	if !hasPrefixFold(xff, untrusted) {
		if prior := pr.In.Header.Values(xff); len(prior) > 0 {
			pr.Out.Header.Set(xff, strings.Join(prior, ", "))
		}
	}
	pr.SetXForwarded() // appends the client's address to X-Forwarded-For
	for _, name := range []string{"X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded"} {
		if prior := pr.In.Header.Values(name); len(prior) > 0 && !hasPrefixFold(name, untrusted) {
			pr.Out.Header[name] = append([]string(nil), prior...)
		}
	}
}

// errUpstreamHeadersTooLarge is an upstream's own plain-text 431: the
// request's headers, as forwarded, were more than it accepts.
var errUpstreamHeadersTooLarge = errors.New("the upstream refused the request headers as too large")

func isProblem(h http.Header) bool {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return mt == problemContentType
}

// proxyErrorHandler answers a failed upstream round trip with a problem. The
// detail says only what kind of failure it was: the error text would name
// the upstream's internal address.
func proxyErrorHandler(logger *slog.Logger, upstreamHost string) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		ctx := r.Context()
		path := ClientPath(r)
		attrs := []slog.Attr{
			slog.String("error", err.Error()),
			slog.String("upstream", upstreamHost),
			slog.String("method", r.Method),
			slog.String("path", path),
			slog.String("correlation_id", CorrelationID(ctx)),
		}
		if errors.Is(ctx.Err(), context.Canceled) {
			// The client went away: there is no one to answer.
			logger.LogAttrs(ctx, slog.LevelDebug, "client went away during upstream request", attrs...)
			return
		}
		p := upstreamProblem(err)
		level := slog.LevelError
		if p.Status < 500 {
			level = slog.LevelWarn // the client's request, not the upstream, was at fault
		}
		logger.LogAttrs(ctx, level, "upstream request failed", append(attrs, slog.Int("status", p.Status))...)
		in := r.WithContext(ctx)
		in.URL = &url.URL{Path: path}
		WriteProblem(w, in, p)
	}
}

// upstreamProblem decides the problem for a failed round trip by the kind of
// error, never by its text.
func upstreamProblem(err error) *Problem {
	if tooLarge, ok := errors.AsType[*http.MaxBytesError](err); ok {
		// LimitBody cut off a body sent without a Content-Length.
		return payloadTooLarge(tooLarge.Limit)
	}
	if errors.Is(err, errUpstreamHeadersTooLarge) {
		return NewProblem(SlugHeadersTooLarge, "The request headers are larger than the upstream service accepts.")
	}
	// A dial that timed out is an unreachable upstream, not a slow one:
	// check dialing before timeouts.
	if opErr, ok := errors.AsType[*net.OpError](err); ok && opErr.Op == "dial" {
		return NewProblem(SlugBadGateway, "The upstream service is unreachable.")
	}
	if _, ok := errors.AsType[*net.DNSError](err); ok {
		return NewProblem(SlugBadGateway, "The upstream service is unreachable.")
	}
	if netErr, ok := errors.AsType[net.Error](err); (ok && netErr.Timeout()) || errors.Is(err, context.DeadlineExceeded) {
		return NewProblem(SlugGatewayTimeout, "The upstream service did not answer in time.")
	}
	return NewProblem(SlugBadGateway, "The upstream service failed to answer.")
}

// NewTransport is a pooled keep-alive transport sized for one upstream: up to
// maxConns idle connections are kept (maxConns <= 0 means 64), dials give up
// after 2s, TCP keep-alive probes every 30s, idle connections close after
// 90s. It speaks HTTP/1.1 only and ignores HTTP_PROXY and friends: upstreams
// are local services.
func NewTransport(maxConns int) *http.Transport {
	if maxConns <= 0 {
		maxConns = 64
	}
	dialer := &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		MaxIdleConns:          maxConns,
		MaxIdleConnsPerHost:   maxConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		Protocols:             &protocols,
	}
}

// headerTimeoutTransport gives any RoundTripper the response header timeout
// of http.Transport: the clock starts once the request body has been sent and
// stops at the response headers, so neither a slow upload nor a long stream
// is cut off.
type headerTimeoutTransport struct {
	next    http.RoundTripper
	timeout time.Duration
}

// headerTimeoutError is returned when the upstream's headers were too slow.
// It is a net.Error with Timeout() true, like http.Transport's own.
type headerTimeoutError struct{}

func (headerTimeoutError) Error() string   { return "timeout awaiting upstream response headers" }
func (headerTimeoutError) Timeout() bool   { return true }
func (headerTimeoutError) Temporary() bool { return true }

func (t headerTimeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	wait := &headerWait{timeout: t.timeout, cancel: cancel}
	out := req.WithContext(ctx)
	if req.Body == nil || req.Body == http.NoBody {
		wait.start()
	} else {
		out.Body = &sentBody{ReadCloser: req.Body, sent: wait.start}
	}
	res, err := t.next.RoundTrip(out)
	if wait.stop() {
		if err == nil {
			res.Body.Close()
		}
		cancel(nil)
		return nil, headerTimeoutError{}
	}
	if err != nil {
		cancel(nil)
		return nil, err
	}
	if res.StatusCode == http.StatusSwitchingProtocols {
		// The body is the upgraded connection, which ReverseProxy needs as
		// an io.ReadWriteCloser; ctx ends with the request's.
		return res, nil
	}
	res.Body = &releasingBody{ReadCloser: res.Body, release: func() { cancel(nil) }}
	return res, nil
}

// headerWait is the clock of one round trip.
type headerWait struct {
	timeout time.Duration
	cancel  context.CancelCauseFunc

	mu    sync.Mutex
	timer *time.Timer
	done  bool
}

// start starts the clock, once, unless the headers have already arrived.
func (w *headerWait) start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done || w.timer != nil {
		return
	}
	w.timer = time.AfterFunc(w.timeout, func() { w.cancel(headerTimeoutError{}) })
}

// stop stops the clock and reports whether it had run out.
func (w *headerWait) stop() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	return w.timer != nil && !w.timer.Stop()
}

// sentBody calls sent when the transport closes the request body, which
// RoundTrip must do (http.RoundTripper) and http.Transport does as soon as
// the body is written.
type sentBody struct {
	io.ReadCloser
	sent func()
}

func (b *sentBody) Close() error {
	b.sent()
	return b.ReadCloser.Close()
}

// releasingBody releases the round trip's context when the response body is
// closed.
type releasingBody struct {
	io.ReadCloser
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}
