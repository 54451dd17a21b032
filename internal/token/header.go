package token

import (
	"errors"
	"strings"
)

// Errors of [FromAuthorizationHeader]; their texts are the problem details of
// SPEC §4.2.
var (
	ErrMissingHeader = errors.New("missing Authorization header")
	//lint:ignore ST1005 the text is the problem detail SPEC §4.2 prescribes
	ErrHeaderFormat = errors.New("Authorization header must be in format: Bearer <token>")
)

// FromAuthorizationHeader returns the bearer token of a request, given all
// its Authorization header values (r.Header.Values("Authorization")). No
// header, or an empty one, is ErrMissingHeader. Several headers, or a value
// that is not exactly the scheme Bearer (matched case-insensitively, RFC 9110
// §11.1), one space and a token free of whitespace, is ErrHeaderFormat: a
// value two parsers could split differently is refused rather than guessed at.
// (Whitespace around the whole value is not part of it, RFC 9110 §5.5, and
// net/http has already removed it.)
func FromAuthorizationHeader(values []string) (string, error) {
	switch {
	case len(values) == 0:
		return "", ErrMissingHeader
	case len(values) > 1:
		return "", ErrHeaderFormat
	}
	v := values[0]
	if strings.TrimSpace(v) == "" {
		return "", ErrMissingHeader
	}
	scheme, tok, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || tok == "" ||
		strings.IndexFunc(tok, isNotTokenChar) >= 0 {
		return "", ErrHeaderFormat
	}
	return tok, nil
}

// isNotTokenChar reports whether r may not appear in a bearer token: any
// whitespace or control character, and anything outside ASCII.
func isNotTokenChar(r rune) bool {
	return r <= ' ' || r >= 0x7f
}
