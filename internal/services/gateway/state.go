package gateway

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/waooaw/waooaw/internal/services/apidoc"
	"github.com/waooaw/waooaw/internal/token"
)

// exchange is what the gateway learns about one API request as it passes the layers: the
// audit row, the Server-Timing header and the identity headers for the backend are all made
// from it.
type exchange struct {
	start       time.Time
	gatewayType string // CP, PP or direct: for audit only, never for a decision
	claims      *token.Claims
	route       *apidoc.Route
	target      string // sandbox or production, once decided

	// The layer that decided, and how: outcome is allowed, denied or error.
	layer, outcome, reason string

	timings       [layerCount]float64 // milliseconds per layer; <0: the layer did not run
	upstreamStart time.Time

	// Budget figures for the response headers, set once the budget layer has run.
	budgetHeaders http.Header
}

// The enforcing layers, in the order they run and report in Server-Timing.
const (
	layerAuth = iota
	layerRBAC
	layerPolicy
	layerBudget
	layerUpstream
	layerCount
)

var layerNames = [layerCount]string{"auth", "rbac", "policy", "budget", "upstream"}

type exchangeKey struct{}

func withExchange(ctx context.Context, x *exchange) context.Context {
	return context.WithValue(ctx, exchangeKey{}, x)
}

func exchangeFrom(ctx context.Context) *exchange {
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	return x
}

// newExchange opens the exchange of r as a direct request; the audit middleware decides
// whether a portal sent it (Server.portalOf).
func newExchange(_ *http.Request) *exchange {
	x := &exchange{start: time.Now(), gatewayType: "direct"}
	for i := range x.timings {
		x.timings[i] = -1
	}
	return x
}

// timed records how long the layer took since t0 and returns the time now.
func (x *exchange) timed(layer int, t0 time.Time) time.Time {
	now := time.Now()
	x.timings[layer] = float64(now.Sub(t0).Microseconds()) / 1000
	return now
}

// decided records the deciding layer.
func (x *exchange) decided(layer, outcome, reason string) {
	x.layer, x.outcome, x.reason = layer, outcome, reason
}

// serverTiming renders the Server-Timing header of the layers that ran.
func (x *exchange) serverTiming() string {
	b := make([]byte, 0, 96)
	for i, ms := range x.timings[:layerCount] {
		if ms < 0 {
			continue
		}
		if len(b) > 0 {
			b = append(b, ", "...)
		}
		b = append(b, layerNames[i]...)
		b = append(b, ";dur="...)
		b = strconv.AppendFloat(b, ms, 'f', 3, 64)
	}
	return string(b)
}
