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
// header, or an empty one, is ErrMissingHeader. Several headers, a value that
// is not exactly two whitespace-separated parts, or a scheme other than
// Bearer (matched case-insensitively, RFC 9110 §11.1) is ErrHeaderFormat.
func FromAuthorizationHeader(values []string) (string, error) {
	switch {
	case len(values) == 0:
		return "", ErrMissingHeader
	case len(values) > 1:
		return "", ErrHeaderFormat
	}
	parts := strings.Fields(values[0])
	switch {
	case len(parts) == 0:
		return "", ErrMissingHeader
	case len(parts) != 2 || !strings.EqualFold(parts[0], "bearer"):
		return "", ErrHeaderFormat
	}
	return parts[1], nil
}
