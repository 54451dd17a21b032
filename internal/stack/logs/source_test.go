package logs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// waitLimit only guards against a hang; nothing here depends on how fast a poll is.
const waitLimit = 10 * time.Second

// logLine is a slog-style line of service, logged i seconds after testNow.
func logLine(service string, i int, correlationID string) string {
	return fmt.Sprintf(`{"time":%q,"level":"INFO","msg":"m%d","service":%q,"correlation_id":%q}`,
		testNow.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), i, service, correlationID)
}

// writeLog writes n lines m0…m(n-1); every hundredth carries the correlation id "abc".
func writeLog(t *testing.T, path string, n int, tail string) {
	t.Helper()
	var b strings.Builder
	for i := range n {
		id := "other"
		if i%100 == 0 {
			id = "abc"
		}
		b.WriteString(logLine("backend", i, id) + "\n")
	}
	b.WriteString(tail)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func msgs(entries []Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Msg)
	}
	return out
}

func msgRange(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("m%d", i))
	}
	return out
}

func TestFileSourceBacklog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "backend.log")
	// About 115 KB, more than the default read block, and a last line still being written.
	writeLog(t, path, 1000, `{"time":"2026-11-28T13:04:05Z","msg":"partial`)
	if info, _ := os.Stat(path); info.Size() <= defaultBlockSize {
		t.Fatalf("test file has %d bytes, want more than one read block", info.Size())
	}
	since := testNow.Add(995 * time.Second)
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{"tail 0", Options{Tail: 0}, nil},
		{"tail 1", Options{Tail: 1}, msgRange(999, 1000)},
		{"tail 10", Options{Tail: 10}, msgRange(990, 1000)},
		{"tail more than a block", Options{Tail: 900}, msgRange(100, 1000)},
		{"tail everything exactly", Options{Tail: 1000}, msgRange(0, 1000)},
		{"tail more than there is", Options{Tail: 5000}, msgRange(0, 1000)},
		{"all", Options{Tail: TailAll}, msgRange(0, 1000)},
		{"since", Options{Tail: TailAll, Since: since}, msgRange(995, 1000)},
		{"since with a shorter tail", Options{Tail: 3, Since: since}, msgRange(997, 1000)},
		{"since with a longer tail", Options{Tail: 10, Since: since}, msgRange(995, 1000)},
		{"correlation id", Options{Tail: TailAll, CorrelationID: "abc"}, []string{"m0", "m100", "m200", "m300", "m400", "m500", "m600", "m700", "m800", "m900"}},
		{"correlation id, tail counts matches", Options{Tail: 3, CorrelationID: "abc"}, []string{"m700", "m800", "m900"}},
		{"correlation id nobody has", Options{Tail: 3, CorrelationID: "nope"}, nil},
	}
	blocks := []int{defaultBlockSize, 97, 16} // 16 is shorter than any line
	for _, block := range blocks {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/block %d", tt.name, block), func(t *testing.T) {
				src := NewFileSource("backend", path)
				src.block = block
				backlog, follow, err := src.Read(t.Context(), tt.opts)
				if err != nil {
					t.Fatal(err)
				}
				if follow != nil {
					t.Error("FollowFunc without Follow")
				}
				if got := msgs(backlog); !slices.Equal(got, tt.want) {
					t.Errorf("got %d entries %v…, want %d %v…", len(got), head(got), len(tt.want), head(tt.want))
				}
			})
		}
	}
}

func head(s []string) []string { return s[:min(len(s), 5)] }

func TestFileSourceNamesUnnamedLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "redis.log")
	content := "plain text from somewhere else\n" + `{"time":"2026-11-28T13:04:05Z","msg":"x"}` + "\n" + logLine("gateway", 1, "") + "\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	backlog, _, err := NewFileSource("redis", path).Read(t.Context(), Options{Tail: TailAll})
	if err != nil {
		t.Fatal(err)
	}
	var services []string
	for _, e := range backlog {
		services = append(services, e.Service)
	}
	if want := []string{"redis", "redis", "gateway"}; !slices.Equal(services, want) {
		t.Errorf("services = %v, want %v (a line's own service wins)", services, want)
	}
}

func TestFileSourceMissingFile(t *testing.T) {
	src := NewFileSource("pp", filepath.Join(t.TempDir(), "absent.log"))
	backlog, follow, err := src.Read(t.Context(), Options{Tail: TailAll})
	if err != nil || backlog != nil || follow != nil {
		t.Errorf("Read = %v, %v, %v; want an empty source", backlog, follow != nil, err)
	}
}

// following runs follow until the test ends and hands over what it emits.
func following(t *testing.T, follow FollowFunc) <-chan Entry {
	t.Helper()
	if follow == nil {
		t.Fatal("no FollowFunc with Follow set")
	}
	ctx, cancel := context.WithCancel(context.Background())
	entries := make(chan Entry, 1000)
	done := make(chan error, 1)
	go func() { done <- follow(ctx, func(e Entry) { entries <- e }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("follow returned %v after cancel, want nil", err)
			}
		case <-time.After(waitLimit):
			t.Error("follow did not return after cancel")
		}
	})
	return entries
}

func expectMsgs(t *testing.T, entries <-chan Entry, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case e := <-entries:
			if e.Msg != w {
				t.Fatalf("got %q, want %q", e.Msg, w)
			}
		case <-time.After(waitLimit):
			t.Fatalf("no entry %q", w)
		}
	}
}

func write(t *testing.T, w *Writer, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if _, err := w.Write([]byte(l + "\n")); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFileSourceFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.log")
	w, err := NewFileWriter(path, "gateway")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { w.Close() }()
	write(t, w, "one", "two", "three")
	// Half a line: not in the backlog, and followed once complete.
	if _, err := w.Write([]byte("fo")); err != nil {
		t.Fatal(err)
	}

	src := NewFileSource("gateway", path)
	src.poll = time.Millisecond
	backlog, follow, err := src.Read(t.Context(), Options{Tail: 2, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := msgs(backlog); !slices.Equal(got, []string{"two", "three"}) {
		t.Errorf("backlog = %v, want two, three", got)
	}
	entries := following(t, follow)

	t.Run("appended by a concurrent writer", func(t *testing.T) {
		go func(w *Writer) {
			for _, l := range []string{"ur\n", "five\nsix", "\n"} {
				if _, err := w.Write([]byte(l)); err != nil {
					t.Error(err)
				}
			}
		}(w)
		expectMsgs(t, entries, "four", "five", "six")
	})
	t.Run("truncated", func(t *testing.T) {
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		// One short line leaves the file shorter than where following was, as after
		// any truncation it notices.
		write(t, w, "after truncation")
		expectMsgs(t, entries, "after truncation")
		write(t, w, "seven")
		expectMsgs(t, entries, "seven")
	})
	t.Run("removed and recreated", func(t *testing.T) {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		write(t, w, "to the removed file") // the old writer still holds it
		w.Close()
		if w, err = NewFileWriter(path, "gateway"); err != nil {
			t.Fatal(err)
		}
		write(t, w, "new file")
		expectMsgs(t, entries, "to the removed file", "new file")
	})
}

func TestFileSourceFollowWaitsForTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "opa.log")
	src := NewFileSource("opa", path)
	src.poll = time.Millisecond
	backlog, follow, err := src.Read(t.Context(), Options{Tail: TailAll, Follow: true, CorrelationID: "abc"})
	if err != nil || backlog != nil {
		t.Fatalf("Read = %v, %v; want an empty backlog", backlog, err)
	}
	entries := following(t, follow)
	w, err := NewFileWriter(path, "opa")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	write(t, w, logLine("opa", 1, "other"), logLine("opa", 2, "abc"), "plain, no id", logLine("opa", 3, "abc"))
	expectMsgs(t, entries, "m2", "m3")
}
