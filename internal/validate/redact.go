package validate

import (
	"regexp"
	"strings"
)

// secretPatterns are what Redact replaces, in order: a PEM private key first (its body may
// span lines), then credentials that sit next to a recognisable label, then bare JWTs.
var secretPatterns = []struct {
	re   *regexp.Regexp
	with string
}{
	// A private key, from BEGIN to END; a block cut short (a truncated body excerpt) is
	// redacted to the end of the text rather than leaking what follows BEGIN.
	{regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)`), "[redacted-key]"},
	// The password of a URL's userinfo: postgres://user:secret@host. The password stops at
	// '/', '?' and '#' so that an '@' later in a path or query (an email) is not mistaken
	// for the end of a userinfo.
	{regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@]*):[^\s/?#@]+@`), "${1}:[redacted]@"},
	// A bearer token, whatever its shape, in a header, a JSON body or prose; the scheme is
	// case-insensitive in HTTP. The token ends at a space or a quoting/separating character.
	{regexp.MustCompile(`(?i)\b(bearer)[ \t]+[^\s"'<>,;]+`), "${1} [redacted]"},
	// Basic credentials, only after the header name: "basic" alone is an ordinary word.
	{regexp.MustCompile(`(?i)\b(authorization:[ \t]*basic)[ \t]+[^\s"'<>,;]+`), "${1} [redacted]"},
	// A libpq keyword DSN's password (password=secret) and a JSON "password" member.
	{regexp.MustCompile(`(?i)\b(password|passwd)=[^\s&;"']+`), "${1}=[redacted]"},
	{regexp.MustCompile(`(?i)("(?:password|passwd)"\s*:\s*)"(?:[^"\\]|\\.)*"`), `${1}"[redacted]"`},
	// A JWT: base64url segments, the first a JSON header ("eyJ" is `{"` encoded). Three
	// segments (the signature may be empty, as with alg "none"), or header and payload of a
	// token cut short by an excerpt. "eyJ" alone, without dots, is not a token.
	{regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.(?:[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*|eyJ[A-Za-z0-9_-]*)`), "[redacted-token]"},
}

// Redact replaces the tokens and secrets in s: JWTs, bearer tokens, URL passwords, PEM
// private keys (and the password of a keyword DSN). Every report passes each of its text
// fields through it; redacting twice changes nothing more.
func Redact(s string) string {
	for _, p := range secretPatterns {
		s = p.re.ReplaceAllString(s, p.with)
	}
	return s
}

// terminalEscape is an ANSI escape sequence (CSI, such as colour, or OSC, such as a title or
// a hyperlink), as found in coloured log lines.
var terminalEscape = regexp.MustCompile(`\x1b\[[0-9;:?<=>]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?`)

// printable removes terminal escape sequences and carriage returns from s and replaces the
// other control characters (and what XML 1.0 cannot hold) with U+FFFD: a report is read
// in a terminal, a CI page or an XML parser, and a log line or a body excerpt from the
// stack must not move the cursor there, nor make the JUnit file unreadable.
func printable(s string) string {
	s = terminalEscape.ReplaceAllString(s, "")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n':
			return r
		case r == '\r':
			return -1
		case r < 0x20, r >= 0x7f && r < 0xa0, r == 0xfffe, r == 0xffff:
			return '\uFFFD'
		}
		return r // invalid UTF-8 arrives here as U+FFFD already
	}, s)
}

// cleanText is a text field as every report shows it: printable, then redacted.
func cleanText(s string) string {
	return Redact(printable(s))
}

// cleanLines cleans lines as one text, so that a key whose BEGIN, body and END are separate
// lines (a log tail, an evidence list) is found; a redacted block becomes one line.
func cleanLines(lines []string) []string {
	if len(lines) == 0 {
		return lines
	}
	return strings.Split(cleanText(strings.Join(lines, "\n")), "\n")
}

// cleanReport returns a copy of rep with every text field cleaned (redacted, control
// characters removed); rep is not changed. Every writer renders such a copy.
func cleanReport(rep *Report) *Report {
	out := *rep
	out.Suite = cleanText(rep.Suite)
	out.Target = cleanText(rep.Target)
	out.Results = make([]Result, len(rep.Results))
	for i, res := range rep.Results {
		res.ID = cleanText(res.ID)
		res.Name = cleanText(res.Name)
		res.Message = cleanText(res.Message)
		res.Service = cleanText(res.Service)
		res.Evidence = cleanLines(res.Evidence)
		res.LogTail = cleanLines(res.LogTail)
		out.Results[i] = res
	}
	return &out
}
