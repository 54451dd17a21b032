package gateway

import "github.com/prometheus/client_golang/prometheus"

// gatewayMetrics are the gateway's own figures, beside the request metrics every service has.
type gatewayMetrics struct {
	decisions   *prometheus.CounterVec // by layer and outcome
	opaLatency  prometheus.Histogram
	cache       *prometheus.CounterVec // hit, miss
	audit       *prometheus.CounterVec // written, dropped
	budgetError prometheus.Counter
}

func newGatewayMetrics(reg prometheus.Registerer) *gatewayMetrics {
	m := &gatewayMetrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "waooaw_gateway_decisions_total",
			Help: "API requests by the layer that decided them and the outcome (allowed, denied, error).",
		}, []string{"layer", "outcome"}),
		opaLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "waooaw_gateway_opa_request_duration_seconds",
			Help:    "Round trips to OPA for a decision (cache misses).",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2},
		}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "waooaw_gateway_decision_cache_total",
			Help: "Decision cache lookups by result.",
		}, []string{"result"}),
		audit: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "waooaw_gateway_audit_rows_total",
			Help: "Audit rows by fate: written to the database, or dropped (queue full, database down, bad row).",
		}, []string{"result"}),
		budgetError: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "waooaw_gateway_budget_store_errors_total",
			Help: "Requests whose budget check could not reach Redis (handled by BUDGET_FAIL_MODE).",
		}),
	}
	reg.MustRegister(m.decisions, m.opaLatency, m.cache, m.audit, m.budgetError)
	for _, r := range []string{"hit", "miss"} {
		m.cache.WithLabelValues(r)
	}
	for _, r := range []string{"written", "dropped"} {
		m.audit.WithLabelValues(r)
	}
	return m
}
