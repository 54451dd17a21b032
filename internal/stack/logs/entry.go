// Package logs owns the service logs of a running stack: the files the local runtime's
// supervisor writes (one JSON object per line, one file per service), the per-service
// sources `waooaw logs` reads from, their merge and filtering, and the text and JSON
// renderings. A runtime plugs in by providing a Source per service.
package logs

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"time"
)

// The members every log line may carry, as log/slog's JSON handler names them.
const (
	keyTime          = "time"
	keyLevel         = "level"
	keyMsg           = "msg"
	keyService       = "service"
	keyCorrelationID = "correlation_id"
)

// FilePath is where the log file of service lives under dir; the supervisor writes it
// and `waooaw logs` reads it, so both ask here.
func FilePath(dir, service string) string {
	return filepath.Join(dir, service+".log")
}

// Entry is one log line, parsed.
type Entry struct {
	Time          time.Time // zero when the line carries no readable time
	Level         string
	Service       string
	Msg           string
	CorrelationID string
	// Fields are the members other than time, level, msg and service, in the order of
	// the line (so correlation_id is here too).
	Fields []Field
	// Plain is set for a line that was plain text: wrapped by Writer, or not JSON at all.
	Plain bool
	// Raw is the line as read, without its newline.
	Raw string
}

// Field is one member of a JSON log line; Value is its JSON text.
type Field struct {
	Key   string
	Value json.RawMessage
}

// Parse reads one log line. It never fails: a line that is not a JSON object becomes a
// plain entry whose Msg is the line and whose Time is zero.
func Parse(line string) Entry {
	fields, ok := objectFields([]byte(line))
	if !ok {
		e := Entry{Msg: line, Plain: true, Raw: line}
		if t, level, msg, ok := parsePostgresLine(line); ok {
			e.Time, e.Level, e.Msg = t, level, msg
		}
		return e
	}
	e := Entry{Raw: line, Plain: isWrapped(fields)}
	seen := make(map[string]bool, 4)
	for _, f := range fields {
		if seen[f.Key] {
			e.Fields = append(e.Fields, f)
			continue
		}
		switch f.Key {
		case keyTime:
			if s, ok := jsonString(f.Value); ok {
				e.Time, _ = time.Parse(time.RFC3339Nano, s)
			}
		case keyLevel:
			e.Level = stringOrText(f.Value)
		case keyMsg:
			e.Msg = stringOrText(f.Value)
		case keyService:
			e.Service = stringOrText(f.Value)
		default:
			if f.Key == keyCorrelationID {
				e.CorrelationID = stringOrText(f.Value)
			}
			e.Fields = append(e.Fields, f)
			continue
		}
		seen[f.Key] = true
	}
	return e
}

// objectFields returns the members of line, in order, when line is one JSON object.
func objectFields(line []byte) ([]Field, bool) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' || !json.Valid(line) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	if _, err := dec.Token(); err != nil { // the '{', known to be there
		return nil, false
	}
	var fields []Field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		key, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, false
		}
		fields = append(fields, Field{Key: key, Value: value})
	}
	return fields, true
}

func jsonString(v json.RawMessage) (string, bool) {
	if len(v) == 0 || v[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

func stringOrText(v json.RawMessage) string {
	if s, ok := jsonString(v); ok {
		return s
	}
	return string(v)
}

// postgresTime is the time PostgreSQL's %m log_line_prefix escape writes.
const postgresTime = "2006-01-02 15:04:05.000 MST"

// parsePostgresLine reads a PostgreSQL server log line written with log_line_prefix
// '%m [%p] ' (its default), as the local runtime's cluster writes it straight to its file:
// "2026-11-28 13:04:05.123 UTC [42] LOG:  database system is ready". It returns the time, the
// level in slog's words and the rest of the line.
func parsePostgresLine(line string) (time.Time, string, string, bool) {
	if len(line) < len(postgresTime)+2 {
		return time.Time{}, "", "", false
	}
	t, err := time.Parse(postgresTime, line[:len(postgresTime)])
	if err != nil {
		return time.Time{}, "", "", false
	}
	rest := strings.TrimSpace(line[len(postgresTime):])
	level := "INFO"
	if i := strings.Index(rest, "] "); strings.HasPrefix(rest, "[") && i > 0 {
		after := rest[i+2:]
		if j := strings.Index(after, ":"); j > 0 {
			switch after[:j] {
			case "WARNING":
				level = "WARN"
			case "ERROR", "FATAL", "PANIC":
				level = "ERROR"
			case "DEBUG1", "DEBUG2", "DEBUG3", "DEBUG4", "DEBUG5":
				level = "DEBUG"
			}
		}
	}
	return t.UTC(), level, rest, true
}
