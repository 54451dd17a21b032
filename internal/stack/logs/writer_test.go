package logs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 28, 13, 4, 5, 123456789, time.UTC)

func fixedClock() time.Time { return testNow }

func TestWriterLines(t *testing.T) {
	const slog = `{"time":"2026-11-28T13:04:05.1Z","level":"INFO","msg":"request","service":"gateway","status":200}`
	tests := []struct {
		name   string
		writes []string
		want   []string
	}{
		{
			name:   "plain line is wrapped",
			writes: []string{"ready to accept connections\n"},
			want:   []string{`{"time":"2026-11-28T13:04:05.123456789Z","level":"INFO","service":"postgres","msg":"ready to accept connections"}`},
		},
		{
			name:   "line split across writes",
			writes: []string{"hel", "lo\nwor", "ld\n"},
			want: []string{
				`{"time":"2026-11-28T13:04:05.123456789Z","level":"INFO","service":"postgres","msg":"hello"}`,
				`{"time":"2026-11-28T13:04:05.123456789Z","level":"INFO","service":"postgres","msg":"world"}`,
			},
		},
		{
			name:   "CRLF and trailing spaces dropped, blank lines skipped",
			writes: []string{"a \r\n\n   \n\r\nb\n"},
			want: []string{
				`{"time":"2026-11-28T13:04:05.123456789Z","level":"INFO","service":"postgres","msg":"a"}`,
				`{"time":"2026-11-28T13:04:05.123456789Z","level":"INFO","service":"postgres","msg":"b"}`,
			},
		},
		{
			name:   "partial line flushed on close",
			writes: []string{"no newline", " yet"},
			want:   []string{`{"time":"2026-11-28T13:04:05.123456789Z","level":"INFO","service":"postgres","msg":"no newline yet"}`},
		},
		{
			name:   "JSON line passes through",
			writes: []string{slog + "\n"},
			want:   []string{slog},
		},
		{
			name:   "JSON line without service gets it last",
			writes: []string{`{"time":"2026-11-28T13:04:05.1Z","level":"WARN","msg":"slow"}` + "\n"},
			want:   []string{`{"time":"2026-11-28T13:04:05.1Z","level":"WARN","msg":"slow","service":"postgres"}`},
		},
		{
			name:   "JSON line without time gets it first",
			writes: []string{`{"level":"INFO","msg":"x","service":"opa"}` + "\n"},
			want:   []string{`{"time":"2026-11-28T13:04:05.123456789Z","level":"INFO","msg":"x","service":"opa"}`},
		},
		{
			name:   "empty object",
			writes: []string{"{ }\n"},
			want:   []string{`{"time":"2026-11-28T13:04:05.123456789Z","service":"postgres"}`},
		},
		{
			name:   "JSON that is not an object is wrapped",
			writes: []string{"[1,2]\n", `{"unterminated":` + "\n"},
			want: []string{
				`{"time":"2026-11-28T13:04:05.123456789Z","level":"INFO","service":"postgres","msg":"[1,2]"}`,
				`{"time":"2026-11-28T13:04:05.123456789Z","level":"INFO","service":"postgres","msg":"{\"unterminated\":"}`,
			},
		},
		{
			name:   "HTML characters and tabs",
			writes: []string{"a <b> & \"c\"\td\n"},
			want:   []string{`{"time":"2026-11-28T13:04:05.123456789Z","level":"INFO","service":"postgres","msg":"a <b> & \"c\"\td"}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf, "postgres", fixedClock)
			for _, s := range tt.writes {
				n, err := w.Write([]byte(s))
				if err != nil || n != len(s) {
					t.Fatalf("Write(%q) = %d, %v", s, n, err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := fileLines(buf.String()); !slices.Equal(got, tt.want) {
				t.Errorf("lines:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestWriterCapsLongLines(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		wantLen int
	}{
		{"ASCII", strings.Repeat("x", MaxLineBytes+100), MaxLineBytes},
		{"cut inside a rune", strings.Repeat("x", MaxLineBytes-1) + "é", MaxLineBytes - 1},
		{"exactly the cap", strings.Repeat("x", MaxLineBytes), MaxLineBytes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf, "redis", fixedClock)
			// In pieces, so the cap holds across writes too.
			for _, part := range []string{tt.line[:1000], tt.line[1000:], "\nnext\n"} {
				if _, err := w.Write([]byte(part)); err != nil {
					t.Fatal(err)
				}
			}
			lines := fileLines(buf.String())
			if len(lines) != 2 {
				t.Fatalf("got %d lines, want 2", len(lines))
			}
			if got := Parse(lines[0]).Msg; len(got) != tt.wantLen {
				t.Errorf("first line has %d bytes, want %d", len(got), tt.wantLen)
			}
			if got := Parse(lines[1]).Msg; got != "next" {
				t.Errorf("second line = %q, want next", got)
			}
		})
	}
}

func TestWriterConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "logs", "backend.log")
	w, err := NewFileWriter(path, "backend")
	if err != nil {
		t.Fatal(err)
	}
	const writers, lines = 8, 200
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range lines {
				line := fmt.Sprintf(`{"time":"2026-11-28T13:04:05Z","level":"INFO","msg":"g%d-%d"}`+"\n", g, i)
				if _, err := w.Write([]byte(line)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("late\n")); err == nil {
		t.Error("Write after Close succeeded")
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool)
	for _, line := range fileLines(string(data)) {
		e := Parse(line)
		if e.Time.IsZero() || e.Service != "backend" || seen[e.Msg] {
			t.Fatalf("torn, unnamed or repeated line %q", line)
		}
		seen[e.Msg] = true
	}
	if len(seen) != writers*lines {
		t.Errorf("got %d distinct lines, want %d", len(seen), writers*lines)
	}
}

func TestFileWriterAppendsWithMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "redis.log")
	for _, msg := range []string{"first", "second"} {
		w, err := NewFileWriter(path, "redis")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(msg + "\n")); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode&^0o022 != 0o644&^0o022 { // whatever the umask leaves
		t.Errorf("mode = %v, want 0644 less the umask", mode)
	}
	data, _ := os.ReadFile(path)
	var msgs []string
	for _, line := range fileLines(string(data)) {
		msgs = append(msgs, Parse(line).Msg)
	}
	if !slices.Equal(msgs, []string{"first", "second"}) {
		t.Errorf("messages = %q, want first, second", msgs)
	}
}

// fileLines splits the content of a log file, which must end in a newline.
func fileLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
