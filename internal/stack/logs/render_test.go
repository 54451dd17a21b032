package logs

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// renderInput is what the files of a stack hold: slog lines of our services, wrapped
// lines of PostgreSQL and Redis, OPA's own style, and a line from elsewhere.
var renderInput = []struct {
	service string
	line    string
}{
	{"postgres", `{"time":"2026-11-28T13:04:05.120Z","level":"INFO","service":"postgres","msg":"LOG:  database system is ready to accept connections"}`},
	{"redis", `{"time":"2026-11-28T13:04:05.121Z","level":"INFO","service":"redis","msg":"* Ready to accept connections tcp"}`},
	{"opa", `{"level":"info","msg":"Initializing server.","time":"2026-11-28T13:04:05.122Z","addrs":[":8181"]}`},
	{"gateway", `{"time":"2026-11-28T13:04:05.123456789Z","level":"INFO","msg":"request","service":"gateway","method":"GET","path":"/api/v1/agents","status":200,"duration_ms":1.2,"correlation_id":"6f1c"}`},
	{"backend", `{"time":"2026-11-28T13:04:05.2Z","level":"WARN","msg":"slow query","service":"backend","query":"select 1","empty":"","ok":true,"nothing":null,"db":{"pool": 4}}`},
	{"cp", `{"time":"2026-11-28T13:04:06Z","level":"ERROR","msg":"upstream failed\nsecond line","service":"cp","error":"dial tcp: connection refused"}`},
	{"pp", `not JSON at all`},
}

func renderAll(t *testing.T, render func(Entry) error) {
	t.Helper()
	for _, in := range renderInput {
		e := Parse(in.line)
		if e.Service == "" {
			e.Service = in.service // as FileSource does
		}
		if err := render(e); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRender(t *testing.T) {
	services := []string{"postgres", "redis", "opa", "backend", "gateway", "cp", "pp"}
	tests := []struct {
		golden string
		render func(*bytes.Buffer) func(Entry) error
	}{
		{"text.golden", func(b *bytes.Buffer) func(Entry) error {
			return NewTextRenderer(b, services, false, time.UTC).Render
		}},
		{"text-colour.golden", func(b *bytes.Buffer) func(Entry) error {
			return NewTextRenderer(b, services, true, time.UTC).Render
		}},
		{"json.golden", func(b *bytes.Buffer) func(Entry) error {
			return NewJSONRenderer(b).Render
		}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			var buf bytes.Buffer
			renderAll(t, tt.render(&buf))
			golden(t, tt.golden, buf.Bytes())
		})
	}
}

func TestRenderJSONNamesTheService(t *testing.T) {
	var buf bytes.Buffer
	renderAll(t, NewJSONRenderer(&buf).Render)
	for i, line := range fileLines(buf.String()) {
		e := Parse(line)
		if e.Plain && e.Msg == line {
			t.Errorf("line %d is not a JSON object: %s", i, line)
		}
		if e.Service != renderInput[i].service {
			t.Errorf("line %d has service %q, want %q", i, e.Service, renderInput[i].service)
		}
	}
}

func TestServiceColoursDiffer(t *testing.T) {
	seen := make(map[string]string)
	for _, s := range []string{"postgres", "redis", "opa", "backend", "gateway", "cp", "pp"} {
		c := string(ServiceColour(s))
		if other, ok := seen[c]; ok {
			t.Errorf("%s and %s share colour %s", s, other, c)
		}
		seen[c] = s
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n got:\n%s\nwant:\n%s", name, got, want)
	}
}
