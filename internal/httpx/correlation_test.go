package httpx

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// serveCorrelation runs req through Correlation and returns the context the
// handler saw and the response.
func serveCorrelation(t *testing.T, req *http.Request) (context.Context, *httptest.ResponseRecorder) {
	t.Helper()
	var ctx context.Context
	rec := httptest.NewRecorder()
	Correlation(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		ctx = r.Context()
	})).ServeHTTP(rec, req)
	if ctx == nil {
		t.Fatal("handler not called")
	}
	return ctx, rec
}

func TestCorrelationID(t *testing.T) {
	tests := []struct {
		name          string
		correlationID *string
		requestID     *string
		want          string // "" means a generated UUID
	}{
		{name: "correlation id kept", correlationID: new("abc-123"), want: "abc-123"},
		{name: "all allowed characters", correlationID: new("A-z_0.9:x"), want: "A-z_0.9:x"},
		{name: "128 characters kept", correlationID: new(strings.Repeat("a", 128)), want: strings.Repeat("a", 128)},
		{name: "correlation id wins over request id", correlationID: new("c1"), requestID: new("r1"), want: "c1"},
		{name: "request id fallback", requestID: new("req-42"), want: "req-42"},
		{name: "invalid correlation id falls back to request id", correlationID: new("a b"), requestID: new("req-7"), want: "req-7"},
		{name: "absent", want: ""},
		{name: "empty", correlationID: new(""), want: ""},
		{name: "too long", correlationID: new(strings.Repeat("a", 129)), want: ""},
		{name: "space", correlationID: new("has space"), want: ""},
		{name: "markup", correlationID: new("<script>"), want: ""},
		{name: "newline", correlationID: new("a\nb"), want: ""},
		{name: "non-ASCII", correlationID: new("idé"), want: ""},
		{name: "invalid request id", requestID: new("x/y"), want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.correlationID != nil {
				req.Header.Set(HeaderCorrelationID, *tt.correlationID)
			}
			if tt.requestID != nil {
				req.Header.Set(HeaderRequestID, *tt.requestID)
			}
			ctx, rec := serveCorrelation(t, req)
			got := CorrelationID(ctx)
			if tt.want != "" && got != tt.want {
				t.Errorf("CorrelationID = %q, want %q", got, tt.want)
			}
			if tt.want == "" {
				if _, err := uuid.Parse(got); err != nil {
					t.Errorf("CorrelationID = %q, want a generated UUID", got)
				}
			}
			if echo := rec.Header().Get(HeaderCorrelationID); echo != got {
				t.Errorf("echoed %s = %q, want %q", HeaderCorrelationID, echo, got)
			}
		})
	}
}

func TestCorrelationGeneratesDistinctIDs(t *testing.T) {
	a, _ := serveCorrelation(t, httptest.NewRequest(http.MethodGet, "/", nil))
	b, _ := serveCorrelation(t, httptest.NewRequest(http.MethodGet, "/", nil))
	if CorrelationID(a) == CorrelationID(b) {
		t.Errorf("two requests got the same id %q", CorrelationID(a))
	}
}

func TestTraceparent(t *testing.T) {
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	const valid = "00-" + traceID + "-00f067aa0ba902b7-01"
	tests := []struct {
		name     string
		header   string
		keptFrom string // the traceparent the request keeps, "" for a fresh trace
	}{
		{name: "valid kept", header: valid, keptFrom: valid},
		{name: "unsampled kept", header: "00-" + traceID + "-00f067aa0ba902b7-00", keptFrom: "00-" + traceID + "-00f067aa0ba902b7-00"},
		{name: "future version read as 00", header: "01-" + traceID + "-00f067aa0ba902b7-01-more", keptFrom: valid},
		{name: "missing", header: ""},
		{name: "garbage", header: "not-a-traceparent"},
		{name: "version ff", header: "ff-" + traceID + "-00f067aa0ba902b7-01"},
		{name: "zero trace id", header: "00-00000000000000000000000000000000-00f067aa0ba902b7-01"},
		{name: "zero parent id", header: "00-" + traceID + "-0000000000000000-01"},
		{name: "uppercase hex", header: "00-" + strings.ToUpper(traceID) + "-00f067aa0ba902b7-01"},
		{name: "version 00 with extra data", header: valid + "-x"},
		{name: "short trace id", header: "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.header != "" {
				req.Header.Set(HeaderTraceparent, tt.header)
			}
			ctx, _ := serveCorrelation(t, req)
			got := Traceparent(ctx)
			if tt.keptFrom != "" {
				if got != tt.keptFrom {
					t.Errorf("Traceparent = %q, want %q", got, tt.keptFrom)
				}
				return
			}
			tc, ok := parseTraceparent(got)
			if !ok {
				t.Fatalf("Traceparent = %q, want a fresh valid traceparent", got)
			}
			if tc.traceID == traceID {
				t.Errorf("invalid header %q was continued", tt.header)
			}
			if TraceID(ctx) != tc.traceID {
				t.Errorf("TraceID = %q, want %q", TraceID(ctx), tc.traceID)
			}
		})
	}
}

func TestChildTraceparentKeepsTraceID(t *testing.T) {
	const incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set(HeaderTraceparent, incoming)
	ctx, _ := serveCorrelation(t, req)

	in, _ := parseTraceparent(incoming)
	first, ok := parseTraceparent(ChildTraceparent(ctx))
	if !ok {
		t.Fatalf("ChildTraceparent = %q is not valid", ChildTraceparent(ctx))
	}
	if first.traceID != in.traceID || first.flags != in.flags {
		t.Errorf("child %v does not continue trace %v", first, in)
	}
	if first.parentID == in.parentID {
		t.Errorf("child kept the caller's parent-id %s", in.parentID)
	}
	second, _ := parseTraceparent(ChildTraceparent(ctx))
	if second.parentID == first.parentID {
		t.Errorf("two children share parent-id %s", first.parentID)
	}
	if Traceparent(ctx) != incoming {
		t.Errorf("ChildTraceparent changed the request's traceparent to %q", Traceparent(ctx))
	}
}

func TestSetOutboundHeaders(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set(HeaderCorrelationID, "c-9")
	req.Header.Set(HeaderTraceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	ctx, _ := serveCorrelation(t, req)

	out := http.Header{}
	out.Set(HeaderCorrelationID, "client-forged")
	SetOutboundHeaders(ctx, out)
	if got := out.Get(HeaderCorrelationID); got != "c-9" {
		t.Errorf("outbound %s = %q, want c-9", HeaderCorrelationID, got)
	}
	tc, ok := parseTraceparent(out.Get(HeaderTraceparent))
	if !ok || tc.traceID != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("outbound traceparent = %q, want the same trace", out.Get(HeaderTraceparent))
	}

	empty := http.Header{}
	SetOutboundHeaders(context.Background(), empty)
	if len(empty) != 0 {
		t.Errorf("context without ids set headers %v", empty)
	}
}
