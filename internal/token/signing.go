package token

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// SigningKey is a private key, or an HS256 secret, together with its kid.
type SigningKey struct {
	alg     Algorithm
	kid     string
	private any // crypto.Signer for the asymmetric algorithms, []byte for HS256
	public  any // the matching verification key; the secret itself for HS256
}

// GenerateSigningKey returns a fresh key for alg: a 2048-bit RSA key for
// RS256, a P-256 key for ES256, an Ed25519 key for EdDSA and 32 random bytes
// for HS256.
func GenerateSigningKey(alg Algorithm) (*SigningKey, error) {
	if err := alg.check(); err != nil {
		return nil, err
	}
	var (
		private any
		err     error
	)
	switch alg {
	case RS256:
		private, err = rsa.GenerateKey(rand.Reader, minRSABits)
	case ES256:
		private, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, private, err = ed25519.GenerateKey(rand.Reader)
	case HS256:
		secret := make([]byte, MinSecretBytes)
		_, err = rand.Read(secret)
		private = secret
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	return newSigningKey(alg, private)
}

// NewSecretSigningKey returns the HS256 signing key for a shared secret of at
// least [MinSecretBytes] bytes.
func NewSecretSigningKey(secret []byte) (*SigningKey, error) {
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("HS256 secret must be at least %d bytes, got %d", MinSecretBytes, len(secret))
	}
	return newSigningKey(HS256, bytes.Clone(secret))
}

func newSigningKey(alg Algorithm, private any) (*SigningKey, error) {
	public := private
	if signer, ok := private.(crypto.Signer); ok {
		public = signer.Public()
		if err := checkPublicKey(alg, public); err != nil {
			return nil, err
		}
	}
	kid, err := thumbprint(public)
	if err != nil {
		return nil, err
	}
	return &SigningKey{alg: alg, kid: kid, private: private, public: public}, nil
}

// ParseSigningKeyPEM reads a private key from PEM: PKCS #8 "PRIVATE KEY",
// PKCS #1 "RSA PRIVATE KEY" or SEC 1 "EC PRIVATE KEY" (an "EC PARAMETERS"
// block before it, as openssl writes, is skipped). The algorithm follows from
// the key type: RSA → RS256, P-256 → ES256, Ed25519 → EdDSA.
func ParseSigningKeyPEM(pemBytes []byte) (*SigningKey, error) {
	for rest := pemBytes; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no PEM private key found")
		}
		var (
			private any
			err     error
		)
		switch block.Type {
		case "EC PARAMETERS":
			continue
		case "PRIVATE KEY":
			private, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			private, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			private, err = x509.ParseECPrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("encrypted private keys are not supported")
		default:
			return nil, fmt.Errorf("unexpected PEM block %q (want PRIVATE KEY)", block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("parse PEM block %q: %w", block.Type, err)
		}
		var alg Algorithm
		switch private.(type) {
		case *rsa.PrivateKey:
			alg = RS256
		case *ecdsa.PrivateKey:
			alg = ES256
		case ed25519.PrivateKey:
			alg = EdDSA
		default:
			return nil, fmt.Errorf("unsupported private key type %T", private)
		}
		return newSigningKey(alg, private)
	}
}

// MarshalPEM returns the private key as PKCS #8 PEM. HS256 secrets have no PEM
// form.
func (k *SigningKey) MarshalPEM() ([]byte, error) {
	if k.alg == HS256 {
		return nil, errors.New("an HS256 secret has no PEM form")
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.private)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Algorithm returns the algorithm the key signs with.
func (k *SigningKey) Algorithm() Algorithm { return k.alg }

// KeyID returns the key's kid: the RFC 7638 thumbprint of its public key (of
// the secret for HS256), which [SigningKey.Sign] puts in every token header.
func (k *SigningKey) KeyID() string { return k.kid }

// PublicKeySet returns the key set that verifies this key's tokens. For HS256
// that is the secret key set.
func (k *SigningKey) PublicKeySet() (*KeySet, error) {
	return newKeySet(k.alg, []verificationKey{{kid: k.kid, key: k.public}})
}

// PublicKeyPEM returns the public key as PKIX "PUBLIC KEY" PEM, the form
// JWT_PUBLIC_KEY takes. HS256 has no public key.
func (k *SigningKey) PublicKeyPEM() ([]byte, error) {
	if k.alg == HS256 {
		return nil, errors.New("HS256 has no public key")
	}
	der, err := x509.MarshalPKIXPublicKey(k.public)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// Sign returns the compact JWS of c, with header alg and kid. It does not
// validate c, so tests and `waooaw verify` can mint deliberately bad tokens;
// [Verifier.Verify] is where the rules live.
func (k *SigningKey) Sign(c *Claims) (string, error) {
	if c == nil {
		return "", errors.New("sign: no claims")
	}
	t := jwt.NewWithClaims(k.alg.method(), c)
	t.Header["kid"] = k.kid
	s, err := t.SignedString(k.private)
	if err != nil {
		return "", fmt.Errorf("sign %s token: %w", k.alg, err)
	}
	return s, nil
}
