package logs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// TextRenderer writes entries for people, docker-compose style:
//
//	gateway  | 13:04:05.123 INFO  request method=GET path=/api/v1/agents status=200
//	postgres | 13:04:05.120 database system is ready to accept connections
//
// It is not safe for concurrent use; Stream calls it from one goroutine.
type TextRenderer struct {
	w        io.Writer
	width    int
	loc      *time.Location
	colour   *lipgloss.Renderer // nil without colour
	prefixes map[string]string
	buf      bytes.Buffer
}

// NewTextRenderer pads the service names to the longest of services. colour is the
// caller's decision (a TTY and NO_COLOR unset); times show in loc, time.Local when nil.
func NewTextRenderer(w io.Writer, services []string, colour bool, loc *time.Location) *TextRenderer {
	r := &TextRenderer{w: w, loc: loc, prefixes: make(map[string]string)}
	if r.loc == nil {
		r.loc = time.Local
	}
	for _, s := range services {
		r.width = max(r.width, len(s))
	}
	if colour {
		r.colour = lipgloss.NewRenderer(w)
		r.colour.SetColorProfile(termenv.ANSI)
	}
	return r
}

// Render writes one entry; a multi-line message continues under the same prefix.
func (r *TextRenderer) Render(e Entry) error {
	prefix := r.prefix(e.Service)
	r.buf.Reset()
	var body strings.Builder
	if !e.Time.IsZero() {
		body.WriteString(e.Time.In(r.loc).Format("15:04:05.000 "))
	}
	if !e.Plain {
		fmt.Fprintf(&body, "%-5s ", strings.ToUpper(e.Level))
	}
	body.WriteString(e.Msg)
	for _, f := range e.Fields {
		body.WriteByte(' ')
		body.WriteString(f.Key)
		body.WriteByte('=')
		body.WriteString(fieldText(f.Value))
	}
	for line := range strings.SplitSeq(body.String(), "\n") {
		r.buf.WriteString(prefix)
		r.buf.WriteByte(' ')
		r.buf.WriteString(strings.TrimRight(line, "\r"))
		r.buf.WriteByte('\n')
	}
	_, err := r.w.Write(r.buf.Bytes())
	return err
}

// prefix is the padded service name and the bar, coloured when colour is on.
func (r *TextRenderer) prefix(service string) string {
	if p, ok := r.prefixes[service]; ok {
		return p
	}
	p := fmt.Sprintf("%-*s |", r.width, service)
	if r.colour != nil {
		p = r.colour.NewStyle().Foreground(ServiceColour(service)).Render(p)
	}
	r.prefixes[service] = p
	return p
}

// ServiceColour is the colour of a service's prefix, the same for a name in every run.
func ServiceColour(service string) lipgloss.Color {
	// ANSI colours without red, which reads as an error, in an order where FNV-1 modulo
	// ten gives the seven services of the stack seven colours: blue postgres, yellow
	// redis, magenta opa, green backend, cyan gateway, bright magenta cp, bright blue pp.
	colours := [...]lipgloss.Color{"4", "10", "11", "5", "13", "2", "3", "12", "14", "6"}
	h := fnv.New32()
	h.Write([]byte(service))
	return colours[h.Sum32()%uint32(len(colours))]
}

// fieldText shows a member's value: strings bare unless they need quotes to read back
// (spaces, quotes, '=', control characters, empty), anything else as compact JSON.
func fieldText(v json.RawMessage) string {
	if s, ok := jsonString(v); ok {
		if s == "" || strings.ContainsFunc(s, func(r rune) bool {
			return unicode.IsSpace(r) || r == '"' || r == '=' || !unicode.IsPrint(r)
		}) {
			return strconv.Quote(s)
		}
		return s
	}
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		return string(v)
	}
	return b.String()
}

// JSONRenderer writes each entry as its JSON line, one per line, naming the service when
// the line does not (and wrapping a line that is not JSON as Writer would).
type JSONRenderer struct {
	w   io.Writer
	buf bytes.Buffer
}

// NewJSONRenderer writes to w.
func NewJSONRenderer(w io.Writer) *JSONRenderer {
	return &JSONRenderer{w: w}
}

// Render writes one entry.
func (r *JSONRenderer) Render(e Entry) error {
	r.buf.Reset()
	appendLine(&r.buf, []byte(e.Raw), e.Service, e.Time)
	_, err := r.w.Write(r.buf.Bytes())
	return err
}
