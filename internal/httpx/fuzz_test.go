package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// fuzzSlugs are the slugs FuzzProblem picks from: every known one, and two it
// does not know.
var fuzzSlugs = []string{
	SlugUnauthorized, SlugInvalidTokenFormat, SlugTokenExpired, SlugInvalidToken, SlugPermissionDenied,
	SlugTrialExpired, SlugTrialLimitExceeded, SlugBudgetExceeded, SlugNotFound, SlugMethodNotAllowed,
	SlugValidationError, SlugConflict, SlugPayloadTooLarge, SlugUnsupportedMediaType, SlugHeadersTooLarge,
	SlugBadGateway, SlugServiceUnavailable, SlugGatewayTimeout, SlugInternal,
	"", "no-such-slug",
}

// FuzzProblem renders problems whose texts are attacker-chosen (a detail
// quoting a query value, an instance that is the client's path, extension
// members) and checks that the answer is always one valid JSON object of
// type application/problem+json whose standard members are exactly what the
// problem says: status and type intact, no member overridden or duplicated,
// and every text as sent except that invalid UTF-8 reads as U+FFFD.
func FuzzProblem(f *testing.F) {
	huge := strings.Repeat("\x00\x1b[31m\u202e\xff", 20<<10) // ~100 KB
	for _, s := range []struct {
		slug                         uint8
		status                       int
		title, detail, path, key, ex string
		violation                    string
		viaNew, wrapped              bool
	}{
		{0, 0, "", "Missing Authorization header", "/api/agents", "", "", "", true, false},
		{3, 0, "", "claim \"sub\" holds control characters", "/api/v1/agents/\x00", "reason", "a\nb", "", true, true},
		{10, 0, "", "The request is invalid", "/api/v1/agents", "", "", "q", true, false},
		{10, 422, "", "", "/api/v1/agents", "violations", "x", "q\x00", false, false},
		{14, 0, "", "The request line and headers are larger than the limit of 65536 bytes.", "/api/v1/agents", "limit_bytes", "65536", "", true, false},
		{19, 0, "", "unknown slug", "/", "", "", "", true, false},
		{20, 418, "Teapot", "", "/\xff", "type", "https://evil.example/", "", false, true},
		{20, 200, "", "", "/", "status", "200", "", false, false},
		{8, 999, "", "", "/api/%ff", "instance", "/elsewhere", "", false, false},
		{8, -1, "", "\xc3", "/api/\xc3", "correlation_id", "forged", "", false, false},
		{1, 0, "", "\u2028\u2029</script>", "/api/v1/agents;x", "", "", "", false, false},
		{4, 0, "", huge, "/" + huge, huge, huge, huge, false, false},
		{11, 0, "", "An agent named \"\u202eevil\" already exists", "/api/v1/agents", "Type", "not the type", "name", true, false},
		{2, 0, "", "", "", "\xff", "\xfe", "\xfd", false, false},
	} {
		f.Add(s.slug, s.status, s.title, s.detail, s.path, s.key, s.ex, s.violation, s.viaNew, s.wrapped)
	}

	logger := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, slugIndex uint8, status int, title, detail, path, key, ext, violation string, viaNew, wrapped bool) {
		slug := fuzzSlugs[int(slugIndex)%len(fuzzSlugs)]
		var p *Problem
		if viaNew {
			p = NewProblem(slug, detail)
			if _, _, ok := problemKind(slug); !ok && (p.Slug != SlugInternal || p.Status != http.StatusInternalServerError) {
				t.Fatalf("NewProblem(%q) = %d %s, want 500 %s", slug, p.Status, p.Slug, SlugInternal)
			}
		} else {
			p = &Problem{Slug: slug, Status: status, Title: title, Detail: detail}
		}
		if violation != "" {
			p.Violations = []Violation{{Field: violation, Message: detail}}
		}
		if key != "" || ext != "" {
			p.With(key, ext)
		}

		// What the document must say.
		wantStatus, wantTitle := p.Status, p.Title
		if kindStatus, kindTitle, ok := problemKind(p.Slug); ok {
			if wantStatus < 400 || wantStatus > 599 {
				wantStatus = kindStatus
			}
			if wantTitle == "" {
				wantTitle = kindTitle
			}
		}
		if wantStatus < 400 || wantStatus > 599 {
			wantStatus = http.StatusInternalServerError
		}
		wantDetail := p.Detail
		if wantDetail == "" {
			wantDetail = wantTitle
		}

		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.Path = path // any bytes, as a server may hand them over
		const id = "fuzz-correlation-id"
		r = r.WithContext(WithCorrelationID(r.Context(), id))
		w := httptest.NewRecorder()
		if wrapped {
			WriteError(w, r, logger, fmt.Errorf("handler: %w", p))
		} else {
			WriteProblem(w, r, p)
		}

		res := w.Result()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != wantStatus {
			t.Fatalf("status %d, want %d", res.StatusCode, wantStatus)
		}
		if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("Content-Type %q", ct)
		}
		keys, err := topLevelKeys(body)
		if err != nil {
			t.Fatalf("body is not one JSON object: %v: %.200q", err, body)
		}
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]any{
			"type":           ProblemTypeBase + validUTF8(p.Slug),
			"title":          validUTF8(wantTitle),
			"status":         float64(wantStatus),
			"detail":         validUTF8(wantDetail),
			"instance":       validUTF8(path),
			"correlation_id": id,
		} {
			if got := doc[name]; got != want {
				t.Fatalf("member %s = %.200q, want %.200q", name, got, want)
			}
			if keys[name] != 1 {
				t.Fatalf("member %s appears %d times", name, keys[name])
			}
		}
		if !strings.HasSuffix(doc["type"].(string), "/"+p.Slug) && p.Slug != "" {
			t.Fatalf("type %q does not end in the slug %q", doc["type"], p.Slug)
		}
		if violation != "" {
			vs, _ := doc["violations"].([]any)
			if len(vs) != 1 || !reflect.DeepEqual(vs[0], map[string]any{"field": validUTF8(violation), "message": validUTF8(detail)}) {
				t.Fatalf("violations = %.200q", doc["violations"])
			}
		}
		if key != "" || ext != "" {
			k := validUTF8(key)
			switch k {
			case "type", "title", "status", "detail", "instance", "correlation_id", "violations":
				// A standard member, checked above: the extension must not have replaced it.
			default:
				if doc[k] != validUTF8(ext) || keys[k] != 1 {
					t.Fatalf("extension %.80q = %.80q (%d times), want %.80q", k, doc[k], keys[k], validUTF8(ext))
				}
			}
		}
		for k, n := range keys {
			if n != 1 {
				t.Fatalf("member %.80q appears %d times", k, n)
			}
		}
	})
}

// validUTF8 is s as a JSON encoder must send it: every byte that is not part
// of valid UTF-8 replaced by U+FFFD, everything else kept.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// topLevelKeys reads body as exactly one JSON object followed by nothing but
// whitespace and counts how often each member name appears (encoding/json
// would silently keep the last of two).
func topLevelKeys(body []byte) (map[string]int, error) {
	if !json.Valid(body) {
		return nil, errors.New("not valid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("does not start an object: %v %v", tok, err)
	}
	keys := make(map[string]int)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys[tok.(string)]++
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// fuzzBody is a destination with the field types request bodies use.
type fuzzBody struct {
	Name    string     `json:"name"`
	Price   *int       `json:"price_monthly"`
	Tags    []string   `json:"tags"`
	ID      uuid.UUID  `json:"agent_id"`
	At      *time.Time `json:"at"`
	Trial   bool       `json:"trial"`
	Ratio   float64    `json:"ratio"`
	Details struct {
		Note string `json:"note"`
	} `json:"details"`
}

// fuzzContentTypes are the Content-Type headers FuzzDecodeJSON sends, with
// whether DecodeJSON must accept them.
var fuzzContentTypes = []struct {
	value string
	ok    bool
}{
	{"", true},
	{"application/json", true},
	{"application/json; charset=utf-8", true},
	{"Application/JSON", true},
	{"application/merge-patch+json", true},
	{"application/x-www-form-urlencoded", true},
	{"text/plain", false},
	{"application/", false},
	{"application/json; charset", false},
	{"multipart/form-data; boundary=x", false},
	{"application/xml", false},
	{"\x00", false},
}

// fuzzBodyLimit is the LimitBody bound of FuzzDecodeJSON.
const fuzzBodyLimit = 4096

// FuzzDecodeJSON feeds DecodeJSON any body. It must succeed exactly when the
// Content-Type is acceptable, the body is within the limit, valid UTF-8 and
// one JSON object that encoding/json decodes into the destination without
// unknown fields, and then give the same value; every refusal must be a
// problem: 415 for the type, 413 over the limit, otherwise a 422 whose
// violations name a field.
func FuzzDecodeJSON(f *testing.F) {
	for _, body := range []string{
		`{"name":"Ada","price_monthly":1200,"tags":["a"],"agent_id":"112ce31d-729a-51f6-b47b-08175182b313"}`,
		`{"name":"Ada"}`, ` {"name":"Ada"} `, `{"name":"\u202eAda"}`, `{"name":"\u0000"}`, "{\"name\":\"Ad\xffa\"}",
		"{\"name\":\"Ada\xc3\"}", "{\"name\":\"\xed\xa0\x80\"}", `{"name":"Ada","NAME":"Bob"}`, `{"name":"Ada","name":"ada"}`,
		``, ` `, `null`, `[]`, `"x"`, `{`, `{"name":}`, `{}{}`, `{} x`, `{"price_monthly":"12"}`,
		`{"price_monthly":1e400}`, `{"price_monthly":12.5}`, `{"agent_id":"nope"}`, `{"at":"yesterday"}`,
		`{"foo":1}`, `{"details":{"x":1}}`, `{"tags":[1]}`, `{"ratio":-0}`, "\ufeff{}", `{"name":"` + strings.Repeat("n", 70<<10) + `"}`,
	} {
		f.Add(uint8(1), []byte(body))
	}
	// Found by this fuzzer: a member with an empty name came back as a violation of field "".
	f.Add(uint8(1), []byte(`{"":""}`))
	f.Add(uint8(6), []byte(`{"name":"Ada"}`))
	f.Add(uint8(11), []byte(`{}`))

	f.Fuzz(func(t *testing.T, ctIndex uint8, body []byte) {
		ct := fuzzContentTypes[int(ctIndex)%len(fuzzContentTypes)]
		r := httptest.NewRequest(http.MethodPost, "/api/v1/agents", bytes.NewReader(body))
		if ct.value != "" {
			r.Header["Content-Type"] = []string{ct.value}
		}
		r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, fuzzBodyLimit)
		var got fuzzBody
		err := DecodeJSON(r, &got)

		var want fuzzBody
		wantErr := func() string {
			switch {
			case !ct.ok:
				return SlugUnsupportedMediaType
			case len(body) > fuzzBodyLimit:
				return SlugPayloadTooLarge
			case !utf8.Valid(body), !json.Valid(body):
				return SlugValidationError
			case !bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("{")):
				return SlugValidationError
			}
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			if dec.Decode(&want) != nil {
				return SlugValidationError
			}
			return ""
		}()

		if err == nil {
			if wantErr != "" {
				t.Fatalf("accepted a body that must be %s: %.200q", wantErr, body)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded %+v, encoding/json reads %+v", got, want)
			}
			return
		}
		p, ok := errors.AsType[*Problem](err)
		if !ok {
			t.Fatalf("error %v (%T) is not a problem", err, err)
		}
		if p.Status < 400 || p.Status > 499 {
			t.Fatalf("problem status %d for a client's body", p.Status)
		}
		if p.Slug != wantErr {
			t.Fatalf("problem %s (%v), want %q for %.200q", p.Slug, p, wantErr, body)
		}
		if p.Slug == SlugValidationError {
			if len(p.Violations) == 0 {
				t.Fatal("422 without violations")
			}
			for _, v := range p.Violations {
				if v.Field == "" || v.Message == "" {
					t.Fatalf("violation %+v names no field or says nothing", v)
				}
			}
		}
	})
}
