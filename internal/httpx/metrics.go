package httpx

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds one service's Prometheus registry and its HTTP request
// metrics. Each service has its own registry, never the global one, so that
// several services in one process (and tests) do not collide.
type Metrics struct {
	// Registry is where the service registers its own figures too.
	Registry *prometheus.Registry

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

// NewMetrics registers, in a new registry,
// waooaw_http_requests_total{service,method,route,status},
// waooaw_http_request_duration_seconds{service,method,route,status},
// waooaw_http_requests_in_flight{service} and the Go and process collectors.
func NewMetrics(service string) *Metrics {
	serviceLabel := prometheus.Labels{"service": service}
	labels := []string{"method", "route", "status"}
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "waooaw_http_requests_total",
			Help:        "HTTP requests served, by method, route pattern and status.",
			ConstLabels: serviceLabel,
		}, labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:        "waooaw_http_request_duration_seconds",
			Help:        "Time to serve HTTP requests, by method, route pattern and status.",
			ConstLabels: serviceLabel,
			// From a cached read (0.5 ms) to a slow proxied call (10 s).
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, labels),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "waooaw_http_requests_in_flight",
			Help:        "HTTP requests being served.",
			ConstLabels: serviceLabel,
		}),
	}
	m.Registry.MustRegister(
		m.requests, m.duration, m.inFlight,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

func (m *Metrics) observe(method, route string, status int, elapsed time.Duration) {
	code := strconv.Itoa(status)
	method = methodLabel(method)
	m.requests.WithLabelValues(method, route, code).Inc()
	m.duration.WithLabelValues(method, route, code).Observe(elapsed.Seconds())
}

// methodLabel keeps the method label bounded: a client may send any token as
// a method, and each distinct one would be a new time series.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}
