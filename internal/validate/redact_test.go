package validate

import (
	"slices"
	"testing"
)

// sampleJWT is a well-formed RS256 token (the signature is made up).
const sampleJWT = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9." +
	"eyJzdWIiOiJ1c2VyLTQyIiwiZW1haWwiOiJ1c2VyQGV4YW1wbGUuY29tIiwicm9sZXMiOlsiYWRtaW4iXX0." +
	"c2lnbmF0dXJlLW5vdC1yZWFsbHktcnNhLWJ1dC1sb25nLWVub3VnaA_x-Y"

// samplePEM is a private key block with its line breaks.
const samplePEM = "-----BEGIN PRIVATE KEY-----\n" +
	"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n" +
	"MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n" +
	"-----END PRIVATE KEY-----"

func TestRedact(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		// Tokens.
		{"bare JWT", "token " + sampleJWT + " expired", "token [redacted-token] expired"},
		{"JWT in JSON", `{"access_token":"` + sampleJWT + `"}`, `{"access_token":"[redacted-token]"}`},
		{"JWT in a query", "GET /cb?token=" + sampleJWT + "&x=1", "GET /cb?token=[redacted-token]&x=1"},
		{"alg none JWT, empty signature", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0. rejected", "[redacted-token] rejected"},
		{"JWT cut short by an excerpt", `{"token":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2Vy…`, `{"token":"[redacted-token]…`},
		{"Authorization header", "  Authorization: Bearer " + sampleJWT, "  Authorization: Bearer [redacted]"},
		{"opaque bearer token", "Authorization: Bearer opaque-abc123~+/= next", "Authorization: Bearer [redacted] next"},
		{"lower-case scheme", `{"authorization":"bearer abc.def"}`, `{"authorization":"bearer [redacted]"}`},
		{"basic credentials", "Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic [redacted]"},

		// Passwords.
		{"postgres URL", "connect postgres://waooaw:s3cr3t@127.0.0.1:5432/waooaw?sslmode=disable: refused",
			"connect postgres://waooaw:[redacted]@127.0.0.1:5432/waooaw?sslmode=disable: refused"},
		{"https URL", "https://ops:hunter2@cp.example.com/health", "https://ops:[redacted]@cp.example.com/health"},
		{"empty user", "redis://:pw@localhost:6379", "redis://:[redacted]@localhost:6379"},
		{"keyword DSN", "host=localhost user=waooaw password=s3cr3t dbname=waooaw", "host=localhost user=waooaw password=[redacted] dbname=waooaw"},
		{"JSON password", `{"user":"a","password":"s3\"cr3t"}`, `{"user":"a","password":"[redacted]"}`},

		// Keys.
		{"PEM block", "key: " + samplePEM + " loaded", "key: [redacted-key] loaded"},
		{"RSA PEM", "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----", "[redacted-key]"},
		{"PEM in a JSON body", `{"key":"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n"}`, `{"key":"[redacted-key]\n"}`},
		{"PEM cut short", "body: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B…", "body: [redacted-key]"},

		// Not secrets.
		{"word starting eyJ", "eyJust a word, eyJfoo too", "eyJust a word, eyJfoo too"},
		{"eyJ word with one dot", "see eyJfoo.bar", "see eyJfoo.bar"},
		{"URL with a port", "GET http://127.0.0.1:8080/health → 200 OK", "GET http://127.0.0.1:8080/health → 200 OK"},
		{"URL with a user only", "postgres://waooaw@127.0.0.1:5432/waooaw", "postgres://waooaw@127.0.0.1:5432/waooaw"},
		{"email in a query", "GET http://127.0.0.1:8080/api/customers?email=x@verify.waooaw.test",
			"GET http://127.0.0.1:8080/api/customers?email=x@verify.waooaw.test"},
		{"email", `body: {"email":"x@verify.waooaw.test"}`, `body: {"email":"x@verify.waooaw.test"}`},
		{"public key", "-----BEGIN PUBLIC KEY-----\nMIIBIjAN\n-----END PUBLIC KEY-----", "-----BEGIN PUBLIC KEY-----\nMIIBIjAN\n-----END PUBLIC KEY-----"},
		{"Bearer at the end", "the scheme is Bearer", "the scheme is Bearer"},
		{"Server-Timing", "Server-Timing: auth;dur=1.2, rbac;dur=0.3", "Server-Timing: auth;dur=1.2, rbac;dur=0.3"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Redact(tt.in)
			if got != tt.want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if again := Redact(got); again != got {
				t.Errorf("Redact is not idempotent: %q → %q", got, again)
			}
		})
	}
}

// A key whose BEGIN, body and END are separate lines of a log tail is still found.
func TestRedactAcrossLines(t *testing.T) {
	lines := []string{"before", "-----BEGIN OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1rZXktdjEAAAAA", "-----END OPENSSH PRIVATE KEY-----", "after"}
	got := cleanLines(lines)
	want := []string{"before", "[redacted-key]", "after"}
	if !slices.Equal(got, want) {
		t.Errorf("redactLines = %q, want %q", got, want)
	}
	if cleanLines(nil) != nil {
		t.Error("cleanLines(nil) is not nil")
	}
}

func TestRedactReportLeavesTheOriginal(t *testing.T) {
	rep := sampleReport()
	before := rep.Results[1].Evidence[1]
	red := cleanReport(rep)
	if rep.Results[1].Evidence[1] != before {
		t.Errorf("the original report was changed: %q", rep.Results[1].Evidence[1])
	}
	if red.Results[1].Evidence[1] == before {
		t.Errorf("the copy was not redacted: %q", before)
	}
}

func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"\x1b[31mred\x1b[0m and \x1b[1;38;5;208mbold\x1b[m", "red and bold"},
		{"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"},
		{"line\r\n", "line\n"},
		{"tab\tkept", "tab\tkept"},
		{"bell\a nul\x00 del\x7f c1\u0085", "bell\uFFFD nul\uFFFD del\uFFFD c1\uFFFD"},
		{"bad utf8 \xff", "bad utf8 \uFFFD"},
		{"→ ✔ ünïcode 🙂", "→ ✔ ünïcode 🙂"},
	}
	for _, tt := range tests {
		if got := printable(tt.in); got != tt.want {
			t.Errorf("printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A terminal escape inside a secret does not hide it from redaction.
func TestRedactSeesThroughTerminalEscapes(t *testing.T) {
	got := cleanText("Authorization: \x1b[1mBearer\x1b[0m opaque-abc123")
	if got != "Authorization: Bearer [redacted]" {
		t.Errorf("cleanText = %q", got)
	}
}
