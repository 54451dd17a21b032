package token

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

func TestParseAlgorithm(t *testing.T) {
	tests := []struct {
		in      string
		want    Algorithm
		wantErr string
	}{
		{in: "", want: RS256},
		{in: "RS256", want: RS256},
		{in: "es256", want: ES256},
		{in: "EdDSA", want: EdDSA},
		{in: "HS256", want: HS256},
		{in: "none", wantErr: `unknown algorithm "none" (allowed: RS256, ES256, EdDSA, HS256)`},
		{in: "RS512", wantErr: `unknown algorithm "RS512" (allowed: RS256, ES256, EdDSA, HS256)`},
	}
	for _, tt := range tests {
		got, err := ParseAlgorithm(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseAlgorithm(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseAlgorithm(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestSigningKeyPEMRoundTrip checks that a key survives PKCS #8 PEM, keeps
// its kid, and that its public PEM verifies its tokens under the same kid.
func TestSigningKeyPEMRoundTrip(t *testing.T) {
	for _, alg := range []Algorithm{RS256, ES256, EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			key := mustGenerate(t, alg)
			privatePEM, err := key.MarshalPEM()
			if err != nil {
				t.Fatalf("MarshalPEM: %v", err)
			}
			if !bytes.HasPrefix(privatePEM, []byte("-----BEGIN PRIVATE KEY-----")) {
				t.Errorf("MarshalPEM is not PKCS #8: %.30s", privatePEM)
			}
			parsed, err := ParseSigningKeyPEM(privatePEM)
			if err != nil {
				t.Fatalf("ParseSigningKeyPEM: %v", err)
			}
			if parsed.Algorithm() != alg || parsed.KeyID() != key.KeyID() {
				t.Errorf("parsed key = %s/%s, want %s/%s", parsed.Algorithm(), parsed.KeyID(), alg, key.KeyID())
			}

			publicPEM, err := key.PublicKeyPEM()
			if err != nil {
				t.Fatalf("PublicKeyPEM: %v", err)
			}
			keys, err := ParsePublicKeyPEM(alg, publicPEM)
			if err != nil {
				t.Fatalf("ParsePublicKeyPEM: %v", err)
			}
			if ids := keys.KeyIDs(); len(ids) != 1 || ids[0] != key.KeyID() {
				t.Errorf("public key ids = %v, want [%s]", ids, key.KeyID())
			}
			v := mustVerifier(t, VerifierConfig{}, keys)
			if _, err := v.Verify(mustSign(t, parsed, validClaims())); err != nil {
				t.Errorf("token of the re-parsed key does not verify with the public PEM: %v", err)
			}

			// Every other algorithm refuses this key.
			for _, other := range []Algorithm{RS256, ES256, EdDSA, HS256} {
				if other == alg {
					continue
				}
				if _, err := ParsePublicKeyPEM(other, publicPEM); err == nil {
					t.Errorf("ParsePublicKeyPEM(%s) accepted a %s key", other, alg)
				}
			}
		})
	}
}

func TestParseKeyPEMLegacyFormats(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	// openssl ecparam -genkey writes the curve parameters first.
	ecParams := pemOf("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07})

	for _, tt := range []struct {
		name       string
		privatePEM []byte
		publicPEM  []byte
		alg        Algorithm
	}{
		{"PKCS1 RSA", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), pemOf("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)), RS256},
		{"SEC1 EC", append(ecParams, pemOf("EC PRIVATE KEY", sec1)...), nil, ES256},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key, err := ParseSigningKeyPEM(tt.privatePEM)
			if err != nil {
				t.Fatalf("ParseSigningKeyPEM: %v", err)
			}
			if key.Algorithm() != tt.alg {
				t.Errorf("algorithm = %s, want %s", key.Algorithm(), tt.alg)
			}
			publicPEM := tt.publicPEM
			if publicPEM == nil {
				if publicPEM, err = key.PublicKeyPEM(); err != nil {
					t.Fatal(err)
				}
			}
			keys, err := ParsePublicKeyPEM(tt.alg, publicPEM)
			if err != nil {
				t.Fatalf("ParsePublicKeyPEM: %v", err)
			}
			if _, err := mustVerifier(t, VerifierConfig{}, keys).Verify(mustSign(t, key, validClaims())); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestParseKeyPEMErrors(t *testing.T) {
	ecKey := mustGenerate(t, ES256)
	ecPrivate, err := ecKey.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	ecPublic, err := ecKey.PublicKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384DER, err := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	p384PEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: p384DER})

	publicTests := []struct {
		name    string
		alg     Algorithm
		pem     []byte
		wantErr string
	}{
		{"EC key for RS256", RS256, ecPublic, "EC key does not fit algorithm RS256"},
		{"EC key for EdDSA", EdDSA, ecPublic, "EC key does not fit algorithm EdDSA"},
		{"P-384 for ES256", ES256, p384PEM, "ES256 requires a P-256 key, got P-384"},
		{"private key given", ES256, ecPrivate, `PEM block "PRIVATE KEY" is a private key`},
		{"no PEM", RS256, []byte("not a key"), "no PEM public key found"},
		{"HS256", HS256, ecPublic, "HS256 verifies with a shared secret"},
		{"unsupported algorithm", Algorithm("RS512"), ecPublic, `unsupported algorithm "RS512"`},
		{"duplicate key", ES256, append(append([]byte{}, ecPublic...), ecPublic...), "appears more than once"},
	}
	for _, tt := range publicTests {
		t.Run("public/"+tt.name, func(t *testing.T) {
			_, err := ParsePublicKeyPEM(tt.alg, tt.pem)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}

	privateTests := []struct {
		name    string
		pem     []byte
		wantErr string
	}{
		{"public key given", ecPublic, `unexpected PEM block "PUBLIC KEY"`},
		{"no PEM", []byte("nope"), "no PEM private key found"},
		{"encrypted", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}), "encrypted private keys are not supported"},
		{"garbage DER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2}}), `parse PEM block "PRIVATE KEY"`},
	}
	for _, tt := range privateTests {
		t.Run("private/"+tt.name, func(t *testing.T) {
			_, err := ParseSigningKeyPEM(tt.pem)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestJWKSRoundTrip(t *testing.T) {
	for _, alg := range []Algorithm{RS256, ES256, EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			key := mustGenerate(t, alg)
			doc, err := mustKeySet(t, key).JWKS()
			if err != nil {
				t.Fatalf("JWKS: %v", err)
			}
			var parsedDoc struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal(doc, &parsedDoc); err != nil {
				t.Fatalf("JWKS is not JSON: %v", err)
			}
			if len(parsedDoc.Keys) != 1 {
				t.Fatalf("JWKS has %d keys, want 1", len(parsedDoc.Keys))
			}
			jwk := parsedDoc.Keys[0]
			if jwk["kid"] != key.KeyID() || jwk["alg"] != string(alg) || jwk["use"] != "sig" {
				t.Errorf("JWK kid/alg/use = %v/%v/%v, want %s/%s/sig", jwk["kid"], jwk["alg"], jwk["use"], key.KeyID(), alg)
			}
			if _, ok := jwk["d"]; ok {
				t.Errorf("JWKS publishes the private key: %s", doc)
			}

			keys, err := ParseJWKS(alg, doc)
			if err != nil {
				t.Fatalf("ParseJWKS: %v", err)
			}
			if _, err := mustVerifier(t, VerifierConfig{}, keys).Verify(mustSign(t, key, validClaims())); err != nil {
				t.Errorf("Verify with the parsed JWKS: %v", err)
			}
			again, err := keys.JWKS()
			if err != nil || !bytes.Equal(again, doc) {
				t.Errorf("JWKS after ParseJWKS differs:\n got %s\nwant %s", again, doc)
			}

			// The kid is the RFC 7638 thumbprint, so a JWK without kid gets the
			// same id as the PEM of the same key.
			delete(jwk, "kid")
			noKid, err := json.Marshal(parsedDoc)
			if err != nil {
				t.Fatal(err)
			}
			keys, err = ParseJWKS(alg, noKid)
			if err != nil {
				t.Fatalf("ParseJWKS without kid: %v", err)
			}
			if ids := keys.KeyIDs(); len(ids) != 1 || ids[0] != key.KeyID() {
				t.Errorf("kid of a JWK without kid = %v, want [%s]", ids, key.KeyID())
			}
		})
	}
}

// TestThumbprintRFC7638 checks the kid against the worked example of RFC
// 7638 §3.1.
func TestThumbprintRFC7638(t *testing.T) {
	doc := `{"keys":[{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":""}]}`
	keys, err := ParseJWKS(RS256, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keys.KeyIDs()[0], "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("thumbprint = %s, want %s", got, want)
	}
}

func TestParseJWKSErrors(t *testing.T) {
	ed := mustGenerate(t, EdDSA)
	edDoc, err := mustKeySet(t, ed).JWKS()
	if err != nil {
		t.Fatal(err)
	}
	edJWK := string(edDoc[len(`{"keys":[`) : len(edDoc)-len(`]}`)])
	withMember := func(member string) string { return `{"keys":[` + strings.TrimSuffix(edJWK, "}") + "," + member + "}]}" }

	tests := []struct {
		name    string
		alg     Algorithm
		doc     string
		wantErr string
	}{
		{"not JSON", EdDSA, "{", "parse JWKS"},
		{"no keys", EdDSA, `{"keys":[]}`, "JWKS has no keys"},
		{"keys missing", EdDSA, `{}`, "JWKS has no keys"},
		{"OKP key for RS256", RS256, string(edDoc), `JWKS key 0: key alg "EdDSA" does not match algorithm RS256`},
		{"kty mismatch", ES256, `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}`, `JWKS key 0: key type "OKP" does not fit algorithm ES256`},
		{"encryption key", EdDSA, strings.Replace(string(edDoc), `"use":"sig"`, `"use":"enc"`, 1), `key use "enc" is not "sig"`},
		{"wrong curve", EdDSA, strings.Replace(string(edDoc), `"crv":"Ed25519"`, `"crv":"X25519"`, 1), `OKP curve "X25519" is not Ed25519`},
		{"short x", EdDSA, `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}`, `member "x" has 3 bytes, want 32`},
		{"EC point off the curve", ES256, `{"keys":[{"kty":"EC","crv":"P-256","x":"` + strings.Repeat("A", 43) + `","y":"` + strings.Repeat("A", 43) + `"}]}`, "EC key"},
		{"small RSA key", RS256, `{"keys":[{"kty":"RSA","n":"` + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 128)) + `","e":"AQAB"}]}`, "at least 2048 are required"},
		{"even RSA exponent", RS256, `{"keys":[{"kty":"RSA","n":"AQAB","e":"AgA"}]}`, `RSA exponent "e" is invalid`},
		{"HS256", HS256, string(edDoc), "HS256 verifies with a shared secret"},
		{"duplicate kid", EdDSA, `{"keys":[` + edJWK + "," + edJWK + `]}`, "appears more than once"},
		{"key missing x", EdDSA, `{"keys":[{"kty":"OKP","crv":"Ed25519"}]}`, `missing member "x"`},
		{"unknown members ignored", EdDSA, withMember(`"x5u":"https://example.com"`), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseJWKS(tt.alg, []byte(tt.doc))
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("ParseJWKS: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestSecretKeys(t *testing.T) {
	if _, err := NewSecretKeySet(make([]byte, 31)); err == nil || !strings.Contains(err.Error(), "at least 32 bytes") {
		t.Errorf("NewSecretKeySet(31 bytes) error = %v, want a length error", err)
	}
	if _, err := NewSecretSigningKey(make([]byte, 31)); err == nil {
		t.Error("NewSecretSigningKey accepted a 31-byte secret")
	}

	secret := []byte("0123456789abcdef0123456789abcdef")
	signer, err := NewSecretSigningKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := NewSecretKeySet(secret)
	if err != nil {
		t.Fatal(err)
	}
	secret[0] = 'X' // the key set must have kept its own copy
	if _, err := mustVerifier(t, VerifierConfig{}, keys).Verify(mustSign(t, signer, validClaims())); err != nil {
		t.Errorf("Verify: %v", err)
	}

	doc, err := keys.JWKS()
	if err != nil || string(doc) != `{"keys":[]}` {
		t.Errorf("HS256 JWKS = %s, %v; want {\"keys\":[]}", doc, err)
	}
	generated := mustGenerate(t, HS256)
	if doc, err := mustKeySet(t, generated).JWKS(); err != nil || string(doc) != `{"keys":[]}` {
		t.Errorf("generated HS256 JWKS = %s, %v; want {\"keys\":[]}", doc, err)
	}
	if _, err := generated.MarshalPEM(); err == nil {
		t.Error("MarshalPEM of an HS256 key succeeded")
	}
	if _, err := generated.PublicKeyPEM(); err == nil {
		t.Error("PublicKeyPEM of an HS256 key succeeded")
	}
	if _, err := GenerateSigningKey("none"); err == nil {
		t.Error(`GenerateSigningKey("none") succeeded`)
	}
}

// TestVerifyKeySelection covers key sets with several keys, as during a key
// rotation.
func TestVerifyKeySelection(t *testing.T) {
	oldKey, newKey, strayKey := mustGenerate(t, ES256), mustGenerate(t, ES256), mustGenerate(t, ES256)
	var both []byte
	for _, k := range []*SigningKey{oldKey, newKey} {
		p, err := k.PublicKeyPEM()
		if err != nil {
			t.Fatal(err)
		}
		both = append(both, p...)
	}
	keys, err := ParsePublicKeyPEM(ES256, both)
	if err != nil {
		t.Fatalf("ParsePublicKeyPEM with two keys: %v", err)
	}
	v := mustVerifier(t, VerifierConfig{}, keys)

	tests := []struct {
		name       string
		token      string
		wantReason string
	}{
		{"old key", mustSign(t, oldKey, validClaims()), ""},
		{"new key", mustSign(t, newKey, validClaims()), ""},
		{"key not in the set", mustSign(t, strayKey, validClaims()), `unknown key id "` + strayKey.KeyID()[:40] + `…"`},
		{"kid of one key, signature of another", signWithHeader(t, strayKey, validClaims(), map[string]any{"kid": oldKey.KeyID()}), "signature is invalid"},
		{"no kid", signWithHeader(t, newKey, validClaims(), map[string]any{"kid": nil}), "token has no key id (kid) and 2 keys are configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(tt.token)
			if tt.wantReason == "" {
				if err != nil {
					t.Errorf("Verify: %v", err)
				}
				return
			}
			if reason := reasonOf(t, err); reason != tt.wantReason {
				t.Errorf("reason = %q, want %q", reason, tt.wantReason)
			}
		})
	}
}

func TestNewVerifierConfig(t *testing.T) {
	keys := mustKeySet(t, mustGenerate(t, EdDSA))
	for _, tt := range []struct {
		name string
		cfg  VerifierConfig
		keys *KeySet
	}{
		{"no keys", VerifierConfig{}, nil},
		{"empty issuer", VerifierConfig{Issuers: []string{""}}, keys},
		{"negative leeway", VerifierConfig{Leeway: -1}, keys},
		{"negative lifetime", VerifierConfig{MaxLifetime: -1}, keys},
		{"negative size", VerifierConfig{MaxTokenBytes: -1}, keys},
	} {
		if _, err := NewVerifier(tt.cfg, tt.keys); err == nil {
			t.Errorf("%s: NewVerifier succeeded", tt.name)
		}
	}

	// A configured size limit replaces the default.
	key := mustGenerate(t, EdDSA)
	raw := mustSign(t, key, validClaims())
	v := mustVerifier(t, VerifierConfig{MaxTokenBytes: len(raw) - 1}, mustKeySet(t, key))
	var inv *InvalidError
	if _, err := v.Verify(raw); !errors.As(err, &inv) || !strings.Contains(inv.Reason, "larger than") {
		t.Errorf("Verify of an oversized token = %v, want a size error", err)
	}
}
