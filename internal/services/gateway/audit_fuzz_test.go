package gateway

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzAuditText checks the escaping that keeps every request's audit row storable (issue 9,
// item 5: a path with %00 or %ff lost its row, because PostgreSQL refuses NUL and invalid
// UTF-8). Whatever a client sends, the text stored is valid UTF-8 without NUL or any other
// ASCII control, it decodes back (as a URL path) to exactly the bytes received, so no two
// requests are recorded alike, and a text that needs no escaping is stored unchanged.
func FuzzAuditText(f *testing.F) {
	for _, s := range []string{
		"", "/api/v1/agents", "/api/v1/agents/\x00", "/api/\xff", "/api/\xc3", "/api/%00", "/api/%ff", "100%",
		"/api/v1/agents/\u202e", "a\r\nb", "\x7f", "\u0085", "\xed\xa0\x80", "\xf4\x90\x80\x80", "Zoë",
		"GET", "PP", "customer_user", "\x00\x00", strings.Repeat("\xff", 1024),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := auditText(s)
		if !utf8.ValidString(got) {
			t.Fatalf("auditText(%q) = %q, not valid UTF-8", s, got)
		}
		for _, r := range got {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("auditText(%q) = %q keeps control character %U", s, got, r)
			}
		}
		back, err := url.PathUnescape(got)
		if err != nil || back != s {
			t.Fatalf("auditText(%q) = %q decodes to %q (%v), not to what was received", s, got, back, err)
		}
		clean := utf8.ValidString(s) && !strings.ContainsRune(s, '%') &&
			strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0
		if clean && got != s {
			t.Fatalf("auditText(%q) = %q changed a text that needs no escaping", s, got)
		}
	})
}
