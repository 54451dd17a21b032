package logs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
	"unicode/utf8"
)

// MaxLineBytes caps one log line; the rest of a longer line is dropped, so one runaway
// line cannot hold the supervisor's memory.
const MaxLineBytes = 64 << 10

// Writer turns the output of one service into log lines: it splits its input into lines,
// keeps a partial line until its end arrives, and writes each line as one JSON object
// with a time and the service's name. It is safe for concurrent use.
type Writer struct {
	service string
	now     func() time.Time

	mu        sync.Mutex
	dst       io.Writer
	closer    io.Closer // nil when the Writer does not own dst
	pending   []byte    // the line being assembled
	truncated bool      // pending hit MaxLineBytes; drop input until the next newline
	closed    bool
	out       bytes.Buffer
}

// NewFileWriter opens (creating it and its directory when missing) the log file at path
// for appending. Give the same Writer to exec.Cmd's Stdout and Stderr: the child then
// writes both through one pipe, and its lines stay in the order it wrote them.
func NewFileWriter(path, service string) (*Writer, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("logs of %s: %w", service, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("logs of %s: %w", service, err)
	}
	w := NewWriter(f, service, time.Now)
	w.closer = f
	return w, nil
}

// NewWriter writes the log lines of service to dst, one Write per line; now stamps plain
// lines. Close flushes a partial line but leaves dst open.
func NewWriter(dst io.Writer, service string, now func() time.Time) *Writer {
	return &Writer{service: service, now: now, dst: dst}
}

// Write never splits a line across writes to the destination, whatever the shape of p.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, fmt.Errorf("logs of %s: %w", w.service, os.ErrClosed)
	}
	for rest := p; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			w.collect(rest)
			break
		}
		w.collect(rest[:i])
		rest = rest[i+1:]
		if err := w.flush(); err != nil {
			return len(p) - len(rest), err
		}
	}
	return len(p), nil
}

// Close writes what remains of a partial line and closes the file of NewFileWriter.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.flush()
	if w.closer != nil {
		err = errors.Join(err, w.closer.Close())
	}
	return err
}

func (w *Writer) collect(b []byte) {
	if w.truncated {
		return
	}
	if room := MaxLineBytes - len(w.pending); len(b) > room {
		b = b[:room]
		w.truncated = true
	}
	w.pending = append(w.pending, b...)
	if w.truncated {
		w.pending = trimPartialRune(w.pending)
	}
}

func (w *Writer) flush() error {
	line := bytes.TrimRight(w.pending, " \t\r")
	w.pending, w.truncated = w.pending[:0], false
	if len(bytes.TrimSpace(line)) == 0 {
		return nil
	}
	w.out.Reset()
	appendLine(&w.out, line, w.service, w.now())
	if _, err := w.dst.Write(w.out.Bytes()); err != nil {
		return fmt.Errorf("logs of %s: %w", w.service, err)
	}
	return nil
}

// appendLine writes line to buf as one JSON object and a newline: a JSON object gets the
// members it misses (time first, service last) and stays as it is otherwise; anything
// else is wrapped by wrapPlain.
func appendLine(buf *bytes.Buffer, line []byte, service string, now time.Time) {
	fields, ok := objectFields(line)
	if !ok {
		level, msg := "INFO", string(line)
		if t, l, m, ok := parsePostgresLine(msg); ok {
			now, level, msg = t, l, m
		}
		wrapPlain(buf, level, msg, service, now)
		return
	}
	var hasTime, hasService bool
	for _, f := range fields {
		hasTime = hasTime || f.Key == keyTime
		hasService = hasService || f.Key == keyService
	}
	line = bytes.TrimSpace(line)
	if (hasTime || now.IsZero()) && (hasService || service == "") {
		buf.Write(line)
		buf.WriteByte('\n')
		return
	}
	body := bytes.TrimSpace(line[1 : len(line)-1]) // between the braces
	buf.WriteByte('{')
	sep := false
	if !hasTime && !now.IsZero() {
		writeMember(buf, keyTime, now.UTC().Format(time.RFC3339Nano))
		sep = true
	}
	if len(body) > 0 {
		if sep {
			buf.WriteByte(',')
		}
		buf.Write(body)
		sep = true
	}
	if !hasService && service != "" {
		if sep {
			buf.WriteByte(',')
		}
		writeMember(buf, keyService, service)
	}
	buf.WriteString("}\n")
}

// wrapPlain writes a plain line (PostgreSQL, redis-server) as
// {"time":…,"level":"INFO","service":…,"msg":…}. isWrapped recognises this shape; keep
// the two together.
func wrapPlain(buf *bytes.Buffer, level, msg, service string, now time.Time) {
	buf.WriteByte('{')
	if !now.IsZero() {
		writeMember(buf, keyTime, now.UTC().Format(time.RFC3339Nano))
		buf.WriteByte(',')
	}
	writeMember(buf, keyLevel, level)
	buf.WriteByte(',')
	writeMember(buf, keyService, service)
	buf.WriteByte(',')
	writeMember(buf, keyMsg, msg)
	buf.WriteString("}\n")
}

// isWrapped tells a line written by wrapPlain from a log/slog line: slog writes time,
// level and msg first and its attributes (service among them) after, never service
// before msg. The time is optional: a line from elsewhere is wrapped without one.
func isWrapped(fields []Field) bool {
	if len(fields) > 0 && fields[0].Key == keyTime {
		fields = fields[1:]
	}
	want := []string{keyLevel, keyService, keyMsg}
	if len(fields) < len(want) {
		return false
	}
	for i, k := range want {
		if fields[i].Key != k {
			return false
		}
	}
	return true
}

func writeMember(buf *bytes.Buffer, key, value string) {
	writeJSONString(buf, key)
	buf.WriteByte(':')
	writeJSONString(buf, value)
}

// writeJSONString writes s as a JSON string without escaping <, > and &, which would
// only make the files harder to read.
func writeJSONString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)           // a string always encodes
	buf.Truncate(buf.Len() - 1) // Encode's newline
}

// trimPartialRune drops an incomplete UTF-8 sequence left at the end of b by a cut.
func trimPartialRune(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			break
		}
	}
	return b
}
