package token

import (
	"errors"
	"testing"
)

func TestFromAuthorizationHeader(t *testing.T) {
	tests := []struct {
		name    string
		values  []string
		want    string
		wantErr error
	}{
		{"missing", nil, "", ErrMissingHeader},
		{"empty", []string{""}, "", ErrMissingHeader},
		{"blank", []string{"  "}, "", ErrMissingHeader},
		{"bearer", []string{"Bearer x"}, "x", nil},
		{"lower-case scheme", []string{"bearer x"}, "x", nil},
		{"upper-case scheme", []string{"BEARER x"}, "x", nil},
		{"basic", []string{"Basic x"}, "", ErrHeaderFormat},
		{"scheme only", []string{"Bearer"}, "", ErrHeaderFormat},
		{"token only", []string{"abc.def.ghi"}, "", ErrHeaderFormat},
		{"three parts", []string{"Bearer a b"}, "", ErrHeaderFormat},
		{"two headers", []string{"Bearer a", "Bearer b"}, "", ErrHeaderFormat},
		{"two spaces", []string{"Bearer  x"}, "", ErrHeaderFormat},
		{"tab", []string{"Bearer\tx"}, "", ErrHeaderFormat},
		{"space and tab", []string{"Bearer \tx"}, "", ErrHeaderFormat},
		{"trailing space kept by a caller", []string{"Bearer x "}, "", ErrHeaderFormat},
		{"leading space", []string{" Bearer x"}, "", ErrHeaderFormat},
		{"control character", []string{"Bearer x\x00y"}, "", ErrHeaderFormat},
		{"non-ASCII", []string{"Bearer x\u00e9"}, "", ErrHeaderFormat},
		{"scheme and space only", []string{"Bearer "}, "", ErrHeaderFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromAuthorizationHeader(tt.values)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Errorf("FromAuthorizationHeader(%q) = %q, %v; want %q, %v", tt.values, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
