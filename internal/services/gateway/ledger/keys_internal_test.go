package ledger

import (
	"strings"
	"testing"
)

func TestKeyID(t *testing.T) {
	long := strings.Repeat("x", 10<<10)
	tests := []struct {
		id        string
		wantPlain bool // kept as it is, readable in redis-cli
	}{
		{"agent-42", true},
		{"0b7c9a52-0f4e-4c1e-9a57-3b1c8d0e2f11", true},
		{"user@example.com", true},
		{strings.Repeat("y", maxRawIDLen), true},
		{strings.Repeat("y", maxRawIDLen+1), false},
		{"a:b", false},
		{"{tag}", false},
		{"~" + strings.Repeat("0", 64), false}, // looks hashed: must not pass as a hash
		{"é", false},
		{long, false},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		got := keyID(tt.id)
		if plain := got == tt.id; plain != tt.wantPlain {
			t.Errorf("keyID(%.20q) = %.20q, kept as it is: %v, want %v", tt.id, got, plain, tt.wantPlain)
		}
		if len(got) > 65 || strings.ContainsAny(got, ":{} ") {
			t.Errorf("keyID(%.20q) = %q: too long or carries a separator", tt.id, got)
		}
		if other, ok := seen[got]; ok {
			t.Errorf("keyID(%.20q) = keyID(%.20q) = %q", tt.id, other, got)
		}
		seen[got] = tt.id
	}
}
