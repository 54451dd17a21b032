package gateway_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/waooaw/waooaw/internal/httpx"
	"github.com/waooaw/waooaw/internal/loadtest"
	"github.com/waooaw/waooaw/internal/services/gateway"
	"github.com/waooaw/waooaw/internal/token"
)

// BenchmarkGatewayOverhead measures, side by side in one run, a bare httputil.ReverseProxy and
// the full gateway chain (RS256 auth, RBAC and policy through OPA, the Redis budget, the audit
// log) in front of the same upstream: first a static handler, then the real backend on
// PostgreSQL. It prints requests/s, p50/p95/p99 and the ratios (SPEC §10), and then the p99
// each adds at half of the bare proxy's peak. It runs once whatever b.N is: run it with
// `make bench-gateway` (go test -run '^$' -bench GatewayOverhead -benchtime 1x).
func BenchmarkGatewayOverhead(b *testing.B) {
	d := benchDuration()
	static := []byte(`{"items":[` + strings.Repeat(`{"id":"112ce31d-729a-51f6-b47b-08175182b313","name":"Aria - Content Strategy"},`, 20) + `{}],"total":21}`)
	staticSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(static)
	}))
	defer staticSrv.Close()

	for _, upstream := range []struct{ name, url string }{
		{"static", staticSrv.URL},
		{"backend", ""},
	} {
		s := newBenchStack(b, upstream.url)
		bare := httptest.NewServer(bareProxy(s.cfg.BackendURL.String()))
		tok := mint(b, []string{token.RoleViewer}, nil)
		path := "/api/v1/agents?limit=20"
		hdr := http.Header{"Authorization": {"Bearer " + tok}}

		// Warm both paths (connections, caches, prepared statements), then measure.
		loadtest.Peak("warm-up", loadtest.Target{URL: bare.URL + path, Header: hdr}, time.Second, 16)
		loadtest.Peak("warm-up", loadtest.Target{URL: s.url + path, Header: hdr}, time.Second, 16)
		rb := loadtest.Peak(upstream.name+": bare ReverseProxy (peak)", loadtest.Target{URL: bare.URL + path, Header: hdr}, d, 32)
		rg := loadtest.Peak(upstream.name+": gateway full chain (peak)", loadtest.Target{URL: s.url + path, Header: hdr}, d, 32)
		half := int(rb.Throughput / 2)
		hb := loadtest.AtRate(fmt.Sprintf("%s: bare at %d req/s", upstream.name, half), loadtest.Target{URL: bare.URL + path, Header: hdr}, half, d)
		hg := loadtest.AtRate(fmt.Sprintf("%s: gateway at %d req/s", upstream.name, half), loadtest.Target{URL: s.url + path, Header: hdr}, half, d)
		bare.Close()

		fmt.Fprintln(os.Stdout)
		loadtest.Print(os.Stdout, rb, rg, hb, hg)
		ratio := rg.Throughput / rb.Throughput
		added := hg.P99 - hb.P99
		fmt.Fprintf(os.Stdout, "%s: gateway/bare throughput ratio %.2f; p99 added at half peak %.2fms\n",
			upstream.name, ratio, float64(added.Microseconds())/1000)
		b.ReportMetric(ratio, upstream.name+"-ratio")
		b.ReportMetric(float64(added.Microseconds())/1000, upstream.name+"-p99-added-ms")
		if rg.Success < 1 || rb.Success < 1 {
			b.Errorf("%s: not every request succeeded (bare %.4f, gateway %.4f)", upstream.name, rb.Success, rg.Success)
		}
	}
}

func benchDuration() time.Duration {
	if s := os.Getenv("WAOOAW_BENCH_DURATION"); s != "" {
		if d, err := time.ParseDuration(s); err == nil {
			return d
		}
	}
	return 5 * time.Second
}

// bareProxy is the yardstick: the standard library's reverse proxy with the same pooled
// transport the gateway uses, and nothing else.
func bareProxy(upstream string) http.Handler {
	u := mustURL(upstream)
	return &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() },
		Transport: httpx.NewTransport(256),
	}
}

// newBenchStack is newStack for a benchmark: caps high enough never to refuse, the audit log on.
func newBenchStack(b *testing.B, upstream string) *stack {
	return newStack(b, func(_ *stack, c *gateway.Config) {
		c.Limits.AgentDailyMicros, c.Limits.PlatformMonthlyMicros = 1e15, 1e15
		if upstream != "" {
			c.BackendURL = mustURL(upstream)
		}
	})
}
