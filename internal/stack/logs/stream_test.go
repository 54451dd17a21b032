package logs

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// fakeSource stands in for a runtime's source: a fixed backlog, then live entries.
type fakeSource struct {
	service string
	backlog []Entry
	live    []Entry
	err     error
}

func (s fakeSource) Service() string { return s.service }

func (s fakeSource) Read(_ context.Context, opts Options) ([]Entry, FollowFunc, error) {
	if s.err != nil {
		return nil, nil, s.err
	}
	if !opts.Follow {
		return s.backlog, nil, nil
	}
	return s.backlog, func(ctx context.Context, emit func(Entry)) error {
		for _, e := range s.live {
			emit(e)
		}
		<-ctx.Done()
		return nil
	}, nil
}

// at is an entry logged sec seconds after testNow (no time when sec < 0).
func at(sec int, msg, correlationID string) Entry {
	e := Entry{Msg: msg, CorrelationID: correlationID}
	if sec >= 0 {
		e.Time = testNow.Add(time.Duration(sec) * time.Second)
	}
	return e
}

func TestStreamMergesBacklogsByTime(t *testing.T) {
	sources := []Source{
		fakeSource{service: "a", backlog: []Entry{at(1, "a1", ""), at(3, "a3", "x"), at(-1, "a-no-time", ""), at(5, "a5", "x")}},
		fakeSource{service: "b", backlog: []Entry{at(1, "b1", "x"), at(2, "b2", ""), at(4, "b4", "x")}},
		fakeSource{service: "c"},
	}
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		// Equal times keep the order of the sources; a line without a time stays after
		// the line before it in its own service.
		{"all", Options{Tail: TailAll}, []string{"a1", "b1", "b2", "a3", "a-no-time", "b4", "a5"}},
		{"correlation id", Options{Tail: TailAll, CorrelationID: "x"}, []string{"b1", "a3", "b4", "a5"}},
		{"since", Options{Tail: TailAll, Since: testNow.Add(3 * time.Second)}, []string{"a3", "b4", "a5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			err := Stream(t.Context(), sources, tt.opts, func(e Entry) error {
				got = append(got, e.Msg)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStreamFollow(t *testing.T) {
	sources := []Source{
		fakeSource{service: "a", backlog: []Entry{at(2, "a2", "x")}, live: []Entry{at(9, "a9", "x"), at(10, "a10", "y")}},
		fakeSource{service: "b", backlog: []Entry{at(1, "b1", "x"), at(3, "b3", "y")}, live: []Entry{at(0, "b-late-but-old", "x")}},
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		done <- Stream(ctx, sources, Options{Tail: TailAll, Follow: true, CorrelationID: "x"}, func(e Entry) error {
			got <- e.Msg
			return nil
		})
	}()
	var seen []string
	for len(seen) < 4 {
		select {
		case m := <-got:
			seen = append(seen, m)
		case <-time.After(waitLimit):
			t.Fatalf("got only %v", seen)
		}
	}
	// The backlog in time order, then live entries as they come, in any order between
	// services.
	if !slices.Equal(seen[:2], []string{"b1", "a2"}) {
		t.Errorf("backlog = %v, want b1, a2", seen[:2])
	}
	if live := slices.Sorted(slices.Values(seen[2:])); !slices.Equal(live, []string{"a9", "b-late-but-old"}) {
		t.Errorf("live = %v, want a9 and b-late-but-old", live)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Stream returned %v after cancel, want nil", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Stream did not return after cancel")
	}
	if len(got) != 0 {
		t.Errorf("unexpected entry %q", <-got)
	}
}

func TestStreamErrors(t *testing.T) {
	errRead := errors.New("engine unreachable")
	errEmit := errors.New("broken pipe")
	ok := fakeSource{service: "a", backlog: []Entry{at(1, "a1", "")}, live: []Entry{at(2, "a2", "")}}
	tests := []struct {
		name    string
		sources []Source
		opts    Options
		want    error
	}{
		{"a source fails", []Source{ok, fakeSource{service: "b", err: errRead}}, Options{Tail: TailAll, Follow: true}, errRead},
		{"emit fails on the backlog", []Source{ok}, Options{Tail: TailAll}, errEmit},
		{"emit fails while following", []Source{ok}, Options{Tail: 0, Follow: true}, errEmit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				done <- Stream(t.Context(), tt.sources, tt.opts, func(Entry) error { return errEmit })
			}()
			select {
			case err := <-done:
				if !errors.Is(err, tt.want) {
					t.Errorf("Stream = %v, want %v", err, tt.want)
				}
			case <-time.After(waitLimit):
				t.Fatal("Stream did not return")
			}
		})
	}
}

// The local runtime end to end: files written by Writers, merged, then followed.
func TestStreamFiles(t *testing.T) {
	dir := t.TempDir()
	services := []string{"postgres", "gateway"}
	writers := make(map[string]*Writer)
	for i, s := range services {
		w, err := NewFileWriter(FilePath(dir, s), s)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close() })
		// The writer's clock stamps the plain postgres lines.
		w.now = func() time.Time { return testNow.Add(time.Duration(i*2) * time.Second) }
		writers[s] = w
	}
	write(t, writers["gateway"], logLine("gateway", 1, ""), logLine("gateway", 3, ""))
	write(t, writers["postgres"], "database system is ready") // at testNow

	sources := FileSources(dir, services)
	for _, s := range sources {
		s.(*FileSource).poll = time.Millisecond
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		done <- Stream(ctx, sources, Options{Tail: TailAll, Follow: true}, func(e Entry) error {
			got <- e.Service + ":" + e.Msg
			return nil
		})
	}()
	expect := func(want ...string) {
		t.Helper()
		for _, w := range want {
			select {
			case m := <-got:
				if m != w {
					t.Fatalf("got %q, want %q", m, w)
				}
			case <-time.After(waitLimit):
				t.Fatalf("no entry %q", w)
			}
		}
	}
	expect("postgres:database system is ready", "gateway:m1", "gateway:m3")
	write(t, writers["postgres"], "checkpoint starting")
	expect("postgres:checkpoint starting")
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Stream = %v after cancel, want nil", err)
	}
}

func TestFilePath(t *testing.T) {
	if got, want := FilePath("/state/logs", "cp"), filepath.Join("/state/logs", "cp.log"); got != want {
		t.Errorf("FilePath = %q, want %q", got, want)
	}
}
