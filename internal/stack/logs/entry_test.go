package logs

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	at := time.Date(2026, 11, 28, 13, 4, 5, 123456789, time.UTC)
	tests := []struct {
		name string
		line string
		want Entry
	}{
		{
			name: "slog request line",
			line: `{"time":"2026-11-28T13:04:05.123456789Z","level":"INFO","msg":"request","service":"gateway","method":"GET","status":200,"correlation_id":"c-1"}`,
			want: Entry{
				Time: at, Level: "INFO", Service: "gateway", Msg: "request", CorrelationID: "c-1",
				Fields: []Field{
					{"method", json.RawMessage(`"GET"`)},
					{"status", json.RawMessage(`200`)},
					{"correlation_id", json.RawMessage(`"c-1"`)},
				},
			},
		},
		{
			name: "wrapped plain line",
			line: `{"time":"2026-11-28T13:04:05.123456789Z","level":"INFO","service":"postgres","msg":"LOG:  ready"}`,
			want: Entry{Time: at, Level: "INFO", Service: "postgres", Msg: "LOG:  ready", Plain: true},
		},
		{
			name: "slog line with no attributes is not plain",
			line: `{"time":"2026-11-28T13:04:05.123456789Z","level":"WARN","msg":"slow","service":"cp"}`,
			want: Entry{Time: at, Level: "WARN", Service: "cp", Msg: "slow"},
		},
		{
			name: "OPA style, time with an offset",
			line: `{"level":"info","msg":"Initializing server.","time":"2026-11-28T14:04:05+01:00"}`,
			want: Entry{Time: time.Date(2026, 11, 28, 13, 4, 5, 0, time.UTC), Level: "info", Msg: "Initializing server."},
		},
		{
			name: "garbage",
			line: `2026-11-28 13:04:05 UTC LOG: not json`,
			want: Entry{Msg: `2026-11-28 13:04:05 UTC LOG: not json`, Plain: true},
		},
		{
			name: "truncated JSON",
			line: `{"time":"2026-11-28T13:04:05Z","msg":"cut`,
			want: Entry{Msg: `{"time":"2026-11-28T13:04:05Z","msg":"cut`, Plain: true},
		},
		{
			name: "unreadable time, message that is not a string, repeated key",
			line: `{"time":"yesterday","msg":{"a":1},"level":"INFO","level":"DEBUG"}`,
			want: Entry{Level: "INFO", Msg: `{"a":1}`, Fields: []Field{{"level", json.RawMessage(`"DEBUG"`)}}},
		},
		{
			name: "empty",
			line: ``,
			want: Entry{Plain: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Parse(tt.line)
			tt.want.Raw = tt.line
			if !got.Time.Equal(tt.want.Time) {
				t.Errorf("Time = %v, want %v", got.Time, tt.want.Time)
			}
			got.Time, tt.want.Time = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// A line the Writer wraps must read back as plain, whatever the message.
func TestWrappedLinesParseAsPlain(t *testing.T) {
	for _, msg := range []string{"x", `{"not":"closed"`, "  spaced  out", "ünïcödé", `{"service":"x"} trailing`} {
		var buf bytes.Buffer
		if _, err := NewWriter(&buf, "redis", fixedClock).Write([]byte(msg + "\n")); err != nil {
			t.Fatal(err)
		}
		e := Parse(strings.TrimSuffix(buf.String(), "\n"))
		if !e.Plain || e.Service != "redis" || e.Msg != msg || !e.Time.Equal(testNow) {
			t.Errorf("wrapped %q reads back as %+v", msg, e)
		}
	}
}

func TestParsePostgresLines(t *testing.T) {
	cases := []struct {
		line, level, msg string
		ok               bool
	}{
		{"2026-11-28 13:04:05.123 UTC [42] LOG:  database system is ready to accept connections", "INFO", "[42] LOG:  database system is ready to accept connections", true},
		{"2026-11-28 13:04:05.123 UTC [42] FATAL:  password authentication failed", "ERROR", "[42] FATAL:  password authentication failed", true},
		{"2026-11-28 13:04:05.123 UTC [42] WARNING:  could not flush", "WARN", "[42] WARNING:  could not flush", true},
		{"not a postgres line at all, but long enough", "", "", false},
		{"2026-11-28", "", "", false},
	}
	for _, c := range cases {
		e := Parse(c.line)
		if !c.ok {
			if !e.Time.IsZero() || e.Msg != c.line {
				t.Errorf("Parse(%q) = %+v, want a plain line without time", c.line, e)
			}
			continue
		}
		want := time.Date(2026, 11, 28, 13, 4, 5, 123e6, time.UTC)
		if !e.Time.Equal(want) || e.Level != c.level || e.Msg != c.msg || !e.Plain {
			t.Errorf("Parse(%q) = time %v level %q msg %q plain %v", c.line, e.Time, e.Level, e.Msg, e.Plain)
		}
	}
}
