package logs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// TailAll asks for every entry rather than the last N.
const TailAll = -1

// Options select the entries of `waooaw logs`.
type Options struct {
	// Tail is how many of the last matching entries of each service to show; TailAll
	// (any negative number) shows them all, 0 none (useful with Follow).
	Tail int
	// Since skips entries older than it, and those without a readable time; the zero
	// time skips none.
	Since time.Time
	// CorrelationID keeps only the entries whose correlation_id equals it, when set.
	CorrelationID string
	// Follow keeps streaming new entries after the backlog.
	Follow bool
}

// Match reports whether e passes the filters of o (Since and CorrelationID).
func (o Options) Match(e Entry) bool {
	if !o.Since.IsZero() && e.Time.Before(o.Since) {
		return false
	}
	if o.CorrelationID != "" && e.CorrelationID != o.CorrelationID {
		return false
	}
	return true
}

// Source is where the log entries of one service come from: a file for the local
// runtime, the Engine API's container logs for the docker runtime.
type Source interface {
	// Service is the name of the service whose entries this source yields.
	Service() string
	// Read returns the backlog — the entries already logged that pass opts.Match, the
	// last opts.Tail of them, oldest first — and, when opts.Follow is set, a FollowFunc
	// that continues from just after it (nil otherwise). The caller must then call the
	// FollowFunc, which releases what Read holds when it returns. Entries without a
	// service of their own get Service().
	Read(ctx context.Context, opts Options) ([]Entry, FollowFunc, error)
}

// FollowFunc passes to emit, as they are logged, the entries that come after the backlog
// it was returned with and pass the same filters, until ctx is done; it then returns nil.
// An error means following can no longer go on.
type FollowFunc func(ctx context.Context, emit func(Entry)) error

const (
	defaultPollInterval = 100 * time.Millisecond
	defaultBlockSize    = 64 << 10
)

// FileSource reads a log file written by Writer (any file of lines will do). A missing
// file is an empty source; following waits for it to appear.
type FileSource struct {
	service string
	path    string
	poll    time.Duration // how often following looks for growth
	block   int           // how much the tail reads at a time, from the end
}

// NewFileSource reads the log of service from the file at path.
func NewFileSource(service, path string) *FileSource {
	return &FileSource{service: service, path: path, poll: defaultPollInterval, block: defaultBlockSize}
}

// FileSources returns the sources of the given services' files under dir (see FilePath).
func FileSources(dir string, services []string) []Source {
	sources := make([]Source, len(services))
	for i, s := range services {
		sources[i] = NewFileSource(s, FilePath(dir, s))
	}
	return sources
}

// Service implements Source.
func (s *FileSource) Service() string { return s.service }

// Read implements Source. The backlog ends at the last complete line; following starts
// there, so a line being written as Read runs is neither lost nor shown twice.
func (s *FileSource) Read(ctx context.Context, opts Options) ([]Entry, FollowFunc, error) {
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		if !opts.Follow {
			return nil, nil, nil
		}
		return nil, s.follower(nil, nil, 0, opts), nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("logs of %s: %w", s.service, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("logs of %s: %w", s.service, err)
	}
	end, err := s.lastLineEnd(f, info.Size())
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("logs of %s: %w", s.service, err)
	}
	var backlog []Entry
	switch {
	case opts.Tail < 0:
		_, err = s.readLines(f, 0, end, func(e Entry) {
			if opts.Match(e) {
				backlog = append(backlog, e)
			}
		})
	case opts.Tail > 0:
		backlog, err = s.tail(ctx, f, end, opts)
	}
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("logs of %s: %w", s.service, err)
	}
	if !opts.Follow {
		f.Close()
		return backlog, nil, nil
	}
	return backlog, s.follower(f, info, end, opts), nil
}

// entry parses one line and names the service when the line does not.
func (s *FileSource) entry(line []byte) Entry {
	e := Parse(string(line))
	if e.Service == "" {
		e.Service = s.service
	}
	return e
}

// readLines parses the complete lines in [from, to) and returns where the last of them
// ends; a line without its newline yet is left for the next read.
func (s *FileSource) readLines(f *os.File, from, to int64, fn func(Entry)) (int64, error) {
	r := bufio.NewReaderSize(io.NewSectionReader(f, from, to-from), s.block)
	pos := from
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: gather it whole (the next read reuses the
			// buffer line points into).
			start := append([]byte(nil), line...)
			var rest []byte
			rest, err = r.ReadBytes('\n')
			line = append(start, rest...)
		}
		if err == io.EOF {
			return pos, nil
		}
		if err != nil {
			return pos, err
		}
		pos += int64(len(line))
		if line = bytes.TrimRight(line, "\r\n"); len(line) > 0 {
			fn(s.entry(line))
		}
	}
}

// lastLineEnd is the offset just after the last newline before size, 0 when there is none.
func (s *FileSource) lastLineEnd(f *os.File, size int64) (int64, error) {
	buf := make([]byte, s.block)
	for end := size; end > 0; {
		start := max(0, end-int64(len(buf)))
		chunk := buf[:end-start]
		if _, err := f.ReadAt(chunk, start); err != nil && err != io.EOF {
			return 0, err
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}

// tail reads the file backwards from end, a block at a time, until it holds the last
// opts.Tail entries that match, so a long log costs no more than the lines shown.
func (s *FileSource) tail(ctx context.Context, f *os.File, end int64, opts Options) ([]Entry, error) {
	var (
		found []Entry // newest first
		carry []byte  // the start of the earliest line seen so far, not yet complete
		buf   = make([]byte, s.block)
	)
	for pos := end; pos > 0 && len(found) < opts.Tail; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		start := max(0, pos-int64(len(buf)))
		chunk := buf[:pos-start]
		if _, err := f.ReadAt(chunk, start); err != nil && err != io.EOF {
			return nil, err
		}
		pos = start
		data := append(append([]byte(nil), chunk...), carry...)
		for len(found) < opts.Tail {
			i := bytes.LastIndexByte(bytes.TrimRight(data, "\n"), '\n')
			if i < 0 && pos > 0 {
				break // the line starts in an earlier block
			}
			line := bytes.TrimRight(data[i+1:], "\r\n")
			data = data[:i+1]
			if len(line) > 0 {
				if e := s.entry(line); opts.Match(e) {
					found = append(found, e)
				}
			}
			if i < 0 {
				break
			}
		}
		carry = data
	}
	for i, j := 0, len(found)-1; i < j; i, j = i+1, j-1 {
		found[i], found[j] = found[j], found[i]
	}
	return found, nil
}

// follower polls the file for growth from pos. It keeps reading the file it has open to
// its end before it moves to a new file at the path (recreated or rotated), and starts
// over when the file shrinks (truncated). A truncation followed by regrowth past pos
// between two polls goes unnoticed: a limit of polling shared with tail -F.
func (s *FileSource) follower(f *os.File, info os.FileInfo, pos int64, opts Options) FollowFunc {
	return func(ctx context.Context, emit func(Entry)) error {
		defer func() {
			if f != nil {
				f.Close()
			}
		}()
		emitMatching := func(e Entry) {
			if opts.Match(e) {
				emit(e)
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		ticker := time.NewTicker(s.poll)
		defer ticker.Stop()
		for {
			// Look at the path before reading the open file, so what reaches the old file
			// before a new one appears is read before the switch.
			current, statErr := os.Stat(s.path)
			if f != nil {
				st, err := f.Stat()
				if err != nil {
					return fmt.Errorf("logs of %s: %w", s.service, err)
				}
				if st.Size() < pos {
					pos = 0
				}
				if pos, err = s.readLines(f, pos, st.Size(), emitMatching); err != nil {
					return fmt.Errorf("logs of %s: %w", s.service, err)
				}
			}
			switch {
			case errors.Is(statErr, fs.ErrNotExist):
				// Removed, or not there yet: keep what is open until a new file appears.
			case statErr != nil:
				return fmt.Errorf("logs of %s: %w", s.service, statErr)
			case info == nil || !os.SameFile(info, current):
				nf, err := os.Open(s.path)
				if errors.Is(err, fs.ErrNotExist) {
					break
				}
				if err != nil {
					return fmt.Errorf("logs of %s: %w", s.service, err)
				}
				if info, err = nf.Stat(); err != nil {
					nf.Close()
					return fmt.Errorf("logs of %s: %w", s.service, err)
				}
				if f != nil {
					f.Close()
				}
				f, pos = nf, 0
				continue // read the new file at once
			}
			select {
			case <-ctx.Done():
				return nil
			case <-ticker.C:
			}
		}
	}
}
