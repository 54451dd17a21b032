package httpx

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DecodeJSON decodes the request body, which must be exactly one JSON object,
// into dst, rejecting fields dst does not have. Client mistakes come back as a
// *Problem ready for WriteError:
//
//   - a Content-Type other than application/json or a +json type: 415 — except
//     application/x-www-form-urlencoded, which is what `curl -d` sends by
//     default; the body must still be JSON, so nothing is misread;
//   - a body over the LimitBody limit: 413;
//   - a body that is not valid UTF-8, an empty body, invalid JSON, a value
//     other than an object, data after the object, a value of the wrong type
//     or an unknown field: 422 with one violation naming the JSON field (or
//     "body").
//
// Other errors (a broken connection, a dst that is not a pointer) are returned
// wrapped, and WriteError answers them with a 500.
func DecodeJSON(r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json") && mt != "application/x-www-form-urlencoded") {
			return NewProblem(SlugUnsupportedMediaType,
				fmt.Sprintf("Content-Type %q is not supported; send application/json.", ct))
		}
	}
	if r.Body == nil {
		return invalidBody("body", "request body must not be empty")
	}
	// The body is read whole (LimitBody bounds it, and the decoder would buffer
	// the whole object anyway) so that its bytes can be checked first:
	// encoding/json silently replaces invalid UTF-8 with U+FFFD, which would
	// store something other than what the client sent.
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return decodeError(err, err)
	}
	if i := firstInvalidUTF8(raw); i >= 0 {
		return invalidBody("body", fmt.Sprintf("request body is not valid UTF-8: invalid byte at offset %d", i))
	}
	body := bytes.TrimLeft(raw, " \t\r\n")
	if len(body) == 0 {
		return invalidBody("body", "request body must not be empty")
	}
	if body[0] != '{' {
		return invalidBody("body", "request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err, nil)
	}
	// Anything but the end of the body after the object is a mistake that
	// silently dropping would hide (two objects, a stray bracket).
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalidBody("body", "request body must hold a single JSON object, found data after it")
	}
	return nil
}

// firstInvalidUTF8 returns the offset of the first byte of b that is not part
// of a valid UTF-8 sequence, or -1 when b is valid UTF-8.
func firstInvalidUTF8(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return -1
}

// decodeError turns an error from decoding the body into a problem when the
// client caused it. readErr is the body's own read error, if any.
func decodeError(err, readErr error) error {
	if readErr != nil {
		if tooLarge, ok := errors.AsType[*http.MaxBytesError](readErr); ok {
			return payloadTooLarge(tooLarge.Limit)
		}
		return fmt.Errorf("read JSON request body: %w", readErr)
	}
	if _, ok := errors.AsType[*json.InvalidUnmarshalError](err); ok {
		return fmt.Errorf("decode JSON request body: %w", err)
	}
	if errors.Is(err, io.EOF) {
		return invalidBody("body", "request body must not be empty")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return invalidBody("body", "request body is not valid JSON: it ends too early")
	}
	if syntax, ok := errors.AsType[*json.SyntaxError](err); ok {
		return invalidBody("body", fmt.Sprintf("request body is not valid JSON at byte %d", syntax.Offset))
	}
	if typ, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		want := jsonTypeName(typ.Type)
		if typ.Field == "" {
			return invalidBody("body", "request body must be "+want)
		}
		return invalidBody(typ.Field, fmt.Sprintf("field '%s' must be %s", typ.Field, want))
	}
	// DisallowUnknownFields reports `json: unknown field "name"` with no
	// error type of its own.
	if _, quoted, ok := strings.Cut(err.Error(), "unknown field "); ok {
		name, uerr := strconv.Unquote(quoted)
		if uerr != nil {
			name = quoted
		}
		if name == "" {
			// A member named "" is still unknown, but a violation must name a field.
			return invalidBody("body", "request body has a member with an empty name")
		}
		return invalidBody(name, fmt.Sprintf("unknown field '%s'", name))
	}
	// What remains comes from a field type's own UnmarshalJSON/UnmarshalText
	// (a malformed UUID, say): the value is the client's mistake.
	return invalidBody("body", "request body has an invalid value: "+err.Error())
}

// invalidBody is a 422 with one violation; its detail repeats the message
// because with a single violation that is the most useful thing to show.
func invalidBody(field, message string) *Problem {
	p := Invalid(Violation{Field: field, Message: message})
	p.Detail = message
	return p
}

// jsonTypeName names the JSON type a Go type decodes from, as a client thinks
// of it.
func jsonTypeName(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return "string" // uuid.UUID, time.Time, net.IP…
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	}
	return t.String()
}
