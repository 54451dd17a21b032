package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
)

// jwkSet is a JSON Web Key Set (RFC 7517 §5).
type jwkSet struct {
	Keys []jwk `json:"keys"`
}

// jwk is the subset of a JSON Web Key (RFC 7517, RFC 7518 §6, RFC 8037) that
// describes the public keys WAOOAW verifies with.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid,omitempty"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// publicJWK returns the members of pub's JWK that identify the key.
func publicJWK(pub any) (jwk, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return jwk{Kty: "RSA", N: base64.RawURLEncoding.EncodeToString(k.N.Bytes()), E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())}, nil
	case *ecdsa.PublicKey:
		point, err := k.Bytes() // 0x04 || X || Y, each coordinate padded to 32 bytes
		if err != nil {
			return jwk{}, fmt.Errorf("encode EC key: %w", err)
		}
		size := (len(point) - 1) / 2
		return jwk{Kty: "EC", Crv: k.Curve.Params().Name, X: base64.RawURLEncoding.EncodeToString(point[1 : 1+size]), Y: base64.RawURLEncoding.EncodeToString(point[1+size:])}, nil
	case ed25519.PublicKey:
		return jwk{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k)}, nil
	}
	return jwk{}, fmt.Errorf("unsupported key type %T", pub)
}

// publicKey decodes j as a public key usable with alg.
func (j jwk) publicKey(alg Algorithm) (any, error) {
	if j.Alg != "" && j.Alg != string(alg) {
		return nil, fmt.Errorf("key alg %s does not match algorithm %s", quoteShort(j.Alg), alg)
	}
	if j.Use != "" && j.Use != "sig" {
		return nil, fmt.Errorf("key use %s is not \"sig\"", quoteShort(j.Use))
	}
	want := map[Algorithm]string{RS256: "RSA", ES256: "EC", EdDSA: "OKP"}[alg]
	if j.Kty != want {
		return nil, fmt.Errorf("key type %s does not fit algorithm %s (want %q)", quoteShort(j.Kty), alg, want)
	}
	switch j.Kty {
	case "RSA":
		return j.rsaKey()
	case "EC":
		return j.ecKey()
	default:
		return j.okpKey()
	}
}

func (j jwk) rsaKey() (any, error) {
	n, err := decodeMember("n", j.N, 0)
	if err != nil {
		return nil, err
	}
	e, err := decodeMember("e", j.E, 0)
	if err != nil {
		return nil, err
	}
	if len(e) > 4 {
		return nil, errors.New("RSA exponent \"e\" is too large")
	}
	exp := new(big.Int).SetBytes(e).Int64()
	if exp < 3 || exp%2 == 0 {
		return nil, errors.New("RSA exponent \"e\" is invalid")
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp)}, nil
}

func (j jwk) ecKey() (any, error) {
	if j.Crv != "P-256" {
		return nil, fmt.Errorf("EC curve %s is not P-256", quoteShort(j.Crv))
	}
	x, err := decodeMember("x", j.X, 32)
	if err != nil {
		return nil, err
	}
	y, err := decodeMember("y", j.Y, 32)
	if err != nil {
		return nil, err
	}
	point := append(append([]byte{4}, x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, fmt.Errorf("EC key: %w", err)
	}
	return pub, nil
}

func (j jwk) okpKey() (any, error) {
	if j.Crv != "Ed25519" {
		return nil, fmt.Errorf("OKP curve %s is not Ed25519", quoteShort(j.Crv))
	}
	x, err := decodeMember("x", j.X, ed25519.PublicKeySize)
	if err != nil {
		return nil, err
	}
	return ed25519.PublicKey(x), nil
}

// decodeMember decodes a base64url member; size, when not 0, is its exact
// decoded length.
func decodeMember(name, value string, size int) ([]byte, error) {
	if value == "" {
		return nil, fmt.Errorf("missing member %q", name)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(value)
	if err != nil {
		return nil, fmt.Errorf("member %q is not base64url: %w", name, err)
	}
	if size != 0 && len(b) != size {
		return nil, fmt.Errorf("member %q has %d bytes, want %d", name, len(b), size)
	}
	return b, nil
}

// thumbprint returns the RFC 7638 JWK thumbprint of a public key or HS256
// secret, base64url-encoded: the SHA-256 of the required members in
// lexicographic order without whitespace. Every member is base64url or a fixed
// name, so no JSON escaping is needed.
func thumbprint(key any) (string, error) {
	var canonical string
	if secret, ok := key.([]byte); ok {
		canonical = fmt.Sprintf(`{"k":%q,"kty":"oct"}`, base64.RawURLEncoding.EncodeToString(secret))
	} else {
		j, err := publicJWK(key)
		if err != nil {
			return "", err
		}
		switch j.Kty {
		case "RSA":
			canonical = fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, j.E, j.N)
		case "EC":
			canonical = fmt.Sprintf(`{"crv":%q,"kty":"EC","x":%q,"y":%q}`, j.Crv, j.X, j.Y)
		case "OKP":
			canonical = fmt.Sprintf(`{"crv":%q,"kty":"OKP","x":%q}`, j.Crv, j.X)
		}
	}
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}
