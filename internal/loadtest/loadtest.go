// Package loadtest measures HTTP throughput and latency for the project's benchmarks, with
// vegeta as the load generator. Every attack is bounded in time and sent only where the caller
// points it (the benchmarks point it at 127.0.0.1).
package loadtest

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Result is one attack's figures.
type Result struct {
	Name       string
	Requests   uint64
	Throughput float64 // successful requests per second
	P50, P95   time.Duration
	P99        time.Duration
	Success    float64 // share of 2xx answers, 0–1
	Errors     []string
}

// Target is one request, repeated for the whole attack.
type Target struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
}

// Peak sends requests as fast as workers allow, for d, and reports what the server sustained.
func Peak(name string, t Target, d time.Duration, workers uint64) Result {
	a := vegeta.NewAttacker(vegeta.Workers(workers), vegeta.MaxWorkers(workers),
		vegeta.KeepAlive(true), vegeta.Connections(int(workers)), vegeta.Timeout(10*time.Second))
	return run(name, a, t, vegeta.Rate{Freq: 0}, d)
}

// AtRate sends rate requests per second for d: latency at a chosen load, not at saturation.
// At most 128 requests are in flight, so an overloaded server slows the attack down instead of
// drowning the machine in connections.
func AtRate(name string, t Target, rate int, d time.Duration) Result {
	a := vegeta.NewAttacker(vegeta.KeepAlive(true), vegeta.Timeout(10*time.Second),
		vegeta.Workers(16), vegeta.MaxWorkers(128), vegeta.Connections(128), vegeta.MaxConnections(128))
	return run(name, a, t, vegeta.Rate{Freq: rate, Per: time.Second}, d)
}

func run(name string, a *vegeta.Attacker, t Target, rate vegeta.Rate, d time.Duration) Result {
	method := t.Method
	if method == "" {
		method = http.MethodGet
	}
	targeter := vegeta.NewStaticTargeter(vegeta.Target{Method: method, URL: t.URL, Header: t.Header, Body: t.Body})
	var m vegeta.Metrics
	for res := range a.Attack(targeter, rate, d, name) {
		m.Add(res)
	}
	m.Close()
	errs := m.Errors
	sort.Strings(errs)
	return Result{
		Name: name, Requests: m.Requests, Throughput: m.Throughput,
		P50: m.Latencies.P50, P95: m.Latencies.P95, P99: m.Latencies.P99,
		Success: m.Success, Errors: errs,
	}
}

// Print writes results as an aligned table.
func Print(w io.Writer, results ...Result) {
	fmt.Fprintf(w, "%-34s %9s %11s %9s %9s %9s %8s\n", "run", "requests", "req/s", "p50", "p95", "p99", "success")
	for _, r := range results {
		fmt.Fprintf(w, "%-34s %9d %11.0f %9s %9s %9s %7.2f%%\n", r.Name, r.Requests, r.Throughput,
			ms(r.P50), ms(r.P95), ms(r.P99), r.Success*100)
		for _, e := range r.Errors {
			fmt.Fprintf(w, "    error: %s\n", e)
		}
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }
