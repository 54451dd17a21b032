package token

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
)

// MinSecretBytes is the shortest HS256 secret accepted: RFC 7518 §3.2 asks
// for a key at least as long as the hash output.
const MinSecretBytes = 32

// minRSABits is the smallest RSA modulus accepted for signing or verifying.
const minRSABits = 2048

// KeySet holds the verification keys of one algorithm, each with a key id
// (kid) that a token header may name. A KeySet is immutable and safe for
// concurrent use.
type KeySet struct {
	alg  Algorithm
	keys []verificationKey
}

type verificationKey struct {
	kid string
	key any // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey or []byte (HS256)
}

func newKeySet(alg Algorithm, keys []verificationKey) (*KeySet, error) {
	if len(keys) == 0 {
		return nil, errors.New("no keys found")
	}
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if seen[k.kid] {
			return nil, fmt.Errorf("key id %s appears more than once", quoteShort(k.kid))
		}
		seen[k.kid] = true
	}
	return &KeySet{alg: alg, keys: keys}, nil
}

// Algorithm returns the one algorithm this key set verifies.
func (ks *KeySet) Algorithm() Algorithm { return ks.alg }

// KeyIDs returns the kid of every key, in the order the keys were given.
func (ks *KeySet) KeyIDs() []string {
	ids := make([]string, len(ks.keys))
	for i, k := range ks.keys {
		ids[i] = k.kid
	}
	return ids
}

// key returns the key a token header selects. A kid must name a key of the
// set; without a kid the set must hold exactly one key, since trying each key
// in turn would hide misconfigured rotations.
func (ks *KeySet) key(kid string, hasKid bool) (any, error) {
	if !hasKid {
		if len(ks.keys) != 1 {
			return nil, invalid("token has no key id (kid) and %d keys are configured", len(ks.keys))
		}
		return ks.keys[0].key, nil
	}
	for _, k := range ks.keys {
		if k.kid == kid {
			return k.key, nil
		}
	}
	return nil, invalid("unknown key id %s", quoteShort(kid))
}

// JWKS returns the key set as a public JWKS document ({"keys":[...]}) for
// /.well-known/jwks.json, every key with kid, alg and use "sig". For HS256 the
// document has no keys: a shared secret is never published.
func (ks *KeySet) JWKS() ([]byte, error) {
	doc := jwkSet{Keys: []jwk{}}
	if ks.alg != HS256 {
		for _, k := range ks.keys {
			j, err := publicJWK(k.key)
			if err != nil {
				return nil, fmt.Errorf("encode key %s: %w", quoteShort(k.kid), err)
			}
			j.Kid, j.Alg, j.Use = k.kid, string(ks.alg), "sig"
			doc.Keys = append(doc.Keys, j)
		}
	}
	return json.Marshal(doc)
}

// NewSecretKeySet returns the HS256 key set for a shared secret of at least
// [MinSecretBytes] bytes. The kid is the RFC 7638 thumbprint of the secret.
func NewSecretKeySet(secret []byte) (*KeySet, error) {
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("HS256 secret must be at least %d bytes, got %d", MinSecretBytes, len(secret))
	}
	secret = bytes.Clone(secret)
	kid, err := thumbprint(secret)
	if err != nil {
		return nil, err
	}
	return newKeySet(HS256, []verificationKey{{kid: kid, key: secret}})
}

// ParsePublicKeyPEM reads the public keys of alg from PEM: PKIX "PUBLIC KEY"
// blocks, PKCS #1 "RSA PUBLIC KEY" blocks (RS256) and the keys of
// "CERTIFICATE" blocks. Several blocks make a key set for key rotation. Each
// key's kid is its RFC 7638 thumbprint, as [SigningKey.KeyID] assigns it.
func ParsePublicKeyPEM(alg Algorithm, pemBytes []byte) (*KeySet, error) {
	if err := alg.check(); err != nil {
		return nil, err
	}
	if alg == HS256 {
		return nil, errors.New("HS256 verifies with a shared secret, not a public key")
	}
	var keys []verificationKey
	for rest := pemBytes; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		pub, err := parsePublicBlock(block)
		if err != nil {
			return nil, err
		}
		if err := checkPublicKey(alg, pub); err != nil {
			return nil, err
		}
		kid, err := thumbprint(pub)
		if err != nil {
			return nil, err
		}
		keys = append(keys, verificationKey{kid: kid, key: pub})
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM public key found")
	}
	return newKeySet(alg, keys)
}

func parsePublicBlock(block *pem.Block) (any, error) {
	var (
		pub any
		err error
	)
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			pub = cert.PublicKey
		}
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("PEM block %q is a private key; give the public key", block.Type)
	default:
		return nil, fmt.Errorf("unexpected PEM block %q (want PUBLIC KEY)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parse PEM block %q: %w", block.Type, err)
	}
	return pub, nil
}

// checkPublicKey reports whether pub is a key alg can verify with, and strong
// enough.
func checkPublicKey(alg Algorithm, pub any) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if alg != RS256 {
			break
		}
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA key has %d bits, at least %d are required", k.N.BitLen(), minRSABits)
		}
		return nil
	case *ecdsa.PublicKey:
		if alg != ES256 {
			break
		}
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("ES256 requires a P-256 key, got %s", k.Curve.Params().Name)
		}
		return nil
	case ed25519.PublicKey:
		if alg == EdDSA {
			return nil
		}
	}
	return fmt.Errorf("%s key does not fit algorithm %s", keyTypeName(pub), alg)
}

func keyTypeName(key any) string {
	switch key.(type) {
	case *rsa.PublicKey, *rsa.PrivateKey:
		return "RSA"
	case *ecdsa.PublicKey, *ecdsa.PrivateKey:
		return "EC"
	case ed25519.PublicKey, ed25519.PrivateKey:
		return "Ed25519"
	case []byte:
		return "secret"
	}
	return fmt.Sprintf("%T", key)
}

// ParseJWKS reads a JWKS document ({"keys":[...]}) of public keys for alg:
// RSA ("n", "e"), EC P-256 ("crv", "x", "y") or OKP Ed25519 ("x"). A key whose
// kty, crv, alg or use does not fit alg is an error rather than skipped, so a
// wrong file fails at start. A key without kid gets its RFC 7638 thumbprint.
func ParseJWKS(alg Algorithm, data []byte) (*KeySet, error) {
	if err := alg.check(); err != nil {
		return nil, err
	}
	if alg == HS256 {
		return nil, errors.New("HS256 verifies with a shared secret, not a JWKS")
	}
	var doc jwkSet
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	if len(doc.Keys) == 0 {
		return nil, errors.New("JWKS has no keys")
	}
	keys := make([]verificationKey, 0, len(doc.Keys))
	for i, j := range doc.Keys {
		pub, err := j.publicKey(alg)
		if err != nil {
			return nil, fmt.Errorf("JWKS key %d: %w", i, err)
		}
		if err := checkPublicKey(alg, pub); err != nil {
			return nil, fmt.Errorf("JWKS key %d: %w", i, err)
		}
		kid := j.Kid
		if kid == "" {
			if kid, err = thumbprint(pub); err != nil {
				return nil, fmt.Errorf("JWKS key %d: %w", i, err)
			}
		}
		keys = append(keys, verificationKey{kid: kid, key: pub})
	}
	ks, err := newKeySet(alg, keys)
	if err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	return ks, nil
}
