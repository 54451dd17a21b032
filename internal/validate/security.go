package validate

// The security suite (`waooaw verify --suite security`): the attacker's pass over a running
// stack, one check per class of hole. Each check sends its attacks to every door they apply to
// (CP, PP, the gateway, the backend's own port, OPA) and records, per request, the door, the
// attack, the status and the problem slug that came back, so a failure says exactly where the
// stack gave way. The checks never print a token: the evidence names each attack instead.

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/waooaw/waooaw/internal/token"
)

// demoCustomerB is the seed's second customer: the tenant mixed-role tokens reach for.
const demoCustomerB = "22222222-2222-4222-8222-222222222222"

var everyDoor = []string{"cp", "pp", "gateway", "backend"}

// securityChecks are the checks of --suite security, in report order.
func securityChecks() []Check {
	sec := func(id, name, service string, needs []string, run func(context.Context, *Target, *evidence) (string, error)) Check {
		return Check{ID: id, Name: name, Security: true, Service: service, Needs: needs, run: run}
	}
	return []Check{
		sec("jwt-alg-none", "Unsigned tokens (alg none, any casing) are refused", "gateway", everyDoor, jwtAlgNone),
		sec("jwt-key-confusion", "HS256 tokens signed with the public key are refused", "gateway", everyDoor, jwtKeyConfusion),
		sec("jwt-expired", "Expired tokens are refused as expired", "gateway", everyDoor, jwtExpired),
		sec("jwt-future", "Tokens issued or valid only in the future are refused", "gateway", everyDoor, jwtFuture),
		sec("token-in-query", "A token in the query string is not accepted", "gateway", everyDoor, tokenInQuery),
		sec("token-in-cookie", "A token in a cookie is not accepted", "gateway", everyDoor, tokenInCookie),
		sec("auth-header-shape", "Malformed Authorization headers are refused", "gateway", everyDoor, authHeaderShape),
		sec("mixed-roles", "Tokens mixing customer and platform roles are refused", "gateway", everyDoor, mixedRoles),
		sec("cross-tenant", "Another tenant's customer, trials and subscriptions are 404 on every door", "backend", everyDoor, crossTenant),
		sec("identity-headers", "Identity headers sent by the client change nothing", "gateway", everyDoor, identityHeaders),
		sec("backend-door", "The backend's own port enforces the gateway's permissions", "backend", []string{"gateway", "backend"}, backendDoor),
		sec("policy-writes", "The policy engine refuses unauthenticated writes", "opa", []string{"opa"}, policyWrites),
		sec("gateway-type-spoof", "A client cannot pass itself off as a portal in the audit", "gateway", []string{"pp", "gateway", "postgres"}, gatewayTypeSpoof),
		sec("bad-bytes", "NUL and invalid UTF-8 get a 4xx problem and an audit row, never a 500", "gateway", everyDoor, badBytes),
		sec("oversized-header", "Over-large headers get a 431 problem, not Go's plain text", "gateway", everyDoor, oversizedHeader),
	}
}

// --- doors and probes ---

// door is one entrance of the stack, with the API prefix a client uses there: the portals
// take /api/… (the gateway maps it to /api/v1/…), the gateway and the backend /api/v1/….
type door struct {
	name, base, api string
}

// url is the door's address of an API path such as "/agents?limit=1".
func (d door) url(path string) string { return d.base + d.api + path }

// doors returns the four HTTP doors of t, portals first.
func (t *Target) doors() []door {
	return []door{
		{"cp", t.CPURL, "/api"},
		{"pp", t.PPURL, "/api"},
		{"gateway", t.GatewayURL, "/api/v1"},
		{"backend", t.BackendURL, "/api/v1"},
	}
}

func (t *Target) door(name string) door {
	for _, d := range t.doors() {
		if d.name == name {
			return d
		}
	}
	panic("no door " + name)
}

// probe is one attack on one door and the answer it must get.
type probe struct {
	door   door
	what   string // the attack, as the evidence names it
	method string
	url    string
	shown  string // the path as the evidence shows it, when url holds a secret
	token  string
	header map[string]string
	body   any
	raw    []byte
	want   want
}

// want is what a probe's answer must be.
type want struct {
	desc  string // "401 invalid-token"
	check func(a *answer) error
}

// wantProblem is an RFC 9457 problem with one of the statuses and, when given, one of the
// slugs. A status alone is not enough: Go's own plain-text 400 and 431 are what the hardened
// stack must no longer send.
func wantProblem(statuses []int, slugs ...string) want {
	var desc []string
	for _, s := range statuses {
		desc = append(desc, strconv.Itoa(s))
	}
	d := strings.Join(desc, "/") + " problem"
	if len(slugs) > 0 {
		d = strings.Join(desc, "/") + " " + strings.Join(slugs, " or ")
	}
	return want{desc: d, check: func(a *answer) error {
		if !slices.Contains(statuses, a.status) {
			return fmt.Errorf("status %d", a.status)
		}
		if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			return fmt.Errorf("Content-Type %q, not a problem", ct)
		}
		var p problem
		if err := a.json(&p); err != nil {
			return err
		}
		if len(slugs) > 0 && !slices.Contains(slugs, p.slug()) {
			return fmt.Errorf("problem %q", p.slug())
		}
		return nil
	}}
}

func wantStatus(statuses ...int) want {
	var desc []string
	for _, s := range statuses {
		desc = append(desc, strconv.Itoa(s))
	}
	return want{desc: strings.Join(desc, " or "), check: func(a *answer) error {
		if !slices.Contains(statuses, a.status) {
			return fmt.Errorf("status %d", a.status)
		}
		return nil
	}}
}

// wantAbsent is a 200 list, or any refusal, that does not hold id.
func wantAbsent(id, what string) want {
	return want{desc: "no " + what + " in the answer", check: func(a *answer) error {
		if a.status >= 500 {
			return fmt.Errorf("status %d", a.status)
		}
		if strings.Contains(string(a.body), id) {
			return fmt.Errorf("status %d, and the answer holds %s", a.status, what)
		}
		return nil
	}}
}

var (
	want401invalid = wantProblem([]int{http.StatusUnauthorized}, "invalid-token")
	want401missing = wantProblem([]int{http.StatusUnauthorized}, "unauthorized")
	want404        = wantProblem([]int{http.StatusNotFound}, "not-found")
	want200        = wantStatus(http.StatusOK)
)

// summarise describes an answer in a few words: its status and its problem slug, or its
// Content-Type when it is not a problem.
func summarise(a *answer) string {
	ct := a.header.Get("Content-Type")
	if strings.HasPrefix(ct, "application/problem+json") {
		var p problem
		if a.json(&p) == nil && p.Type != "" {
			return fmt.Sprintf("%d %s", a.status, p.slug())
		}
	}
	if ct == "" {
		return strconv.Itoa(a.status)
	}
	ct, _, _ = strings.Cut(ct, ";")
	return fmt.Sprintf("%d %s", a.status, ct)
}

// runProbes sends every probe and records one evidence line each: the door, the attack, the
// request, what came back, and what was wanted when it differs (with the body). It fails when
// any probe got the wrong answer; when none got an answer at all, it returns the first
// transport error, so that a stack that is not there counts as unreachable.
func runProbes(ctx context.Context, t *Target, ev *evidence, probes []probe) (int, error) {
	var wrong []string
	var transport error
	answered := 0
	for _, p := range probes {
		method := p.method
		if method == "" {
			method = http.MethodGet
		}
		shown := p.shown
		if shown == "" {
			shown = strings.TrimPrefix(p.url, p.door.base)
		}
		a, err := t.do(ctx, &evidence{}, call{method: method, url: p.url, token: p.token, header: p.header, body: p.body, raw: p.raw})
		if err != nil {
			if ctx.Err() != nil {
				return 0, err
			}
			ev.add("[%s] %s: %s %s → %v (want %s)", p.door.name, p.what, method, shown, unwrap(err), p.want.desc)
			wrong = append(wrong, fmt.Sprintf("[%s] %s: %v", p.door.name, p.what, unwrap(err)))
			if transport == nil {
				transport = err
			}
			continue
		}
		answered++
		if err := p.want.check(a); err != nil {
			ev.add("[%s] %s: %s %s → %s (want %s)", p.door.name, p.what, method, shown, summarise(a), p.want.desc)
			ev.add("    body: %s", excerpt(a.body))
			wrong = append(wrong, fmt.Sprintf("[%s] %s: %s, want %s", p.door.name, p.what, err, p.want.desc))
			continue
		}
		ev.add("[%s] %s: %s %s → %s", p.door.name, p.what, method, shown, summarise(a))
	}
	switch {
	case answered == 0 && transport != nil:
		return 0, transport
	case len(wrong) == 1:
		return 0, fmt.Errorf("%s", wrong[0])
	case len(wrong) > 1:
		return 0, fmt.Errorf("%d of %d requests answered wrongly; first %s", len(wrong), len(probes), wrong[0])
	}
	return len(probes), nil
}

// setup runs a check's preparation with its evidence marked as such.
func setup(ev *evidence, what string) { ev.add("setup: %s", what) }

// --- forged tokens ---

// forgeClaims are the claims of a token the stack would accept if it were signed with its key:
// a customer admin of the first demo customer, issued now, for ten minutes.
func forgeClaims(sub string) *token.Claims {
	c := token.NewClaims(sub, sub+"@verify.waooaw.test", []string{token.RoleCustomerAdmin}, 10*time.Minute, time.Now())
	c.CustomerID = demoCustomerA
	return c
}

func b64(data []byte) string { return base64.RawURLEncoding.EncodeToString(data) }

// forge returns the compact JWS of claims under header, signed with sign (nil: no signature).
func forge(header map[string]any, claims *token.Claims, sign func(input []byte) []byte) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	p, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64(h) + "." + b64(p)
	sig := ""
	if sign != nil {
		sig = b64(sign([]byte(input)))
	}
	return input + "." + sig, nil
}

func hs256(secret []byte) func([]byte) []byte {
	return func(input []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(input)
		return m.Sum(nil)
	}
}

func randomLabel() string { return strings.ToLower(rand.Text()[:10]) }

// --- the checks ---

func jwtAlgNone(ctx context.Context, t *Target, ev *evidence) (string, error) {
	claims := forgeClaims("verify-alg-none-" + randomLabel())
	var probes []probe
	for _, d := range t.doors() {
		for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
			tok, err := forge(map[string]any{"alg": alg, "typ": "JWT"}, claims, nil)
			if err != nil {
				return "", err
			}
			probes = append(probes, probe{door: d, what: fmt.Sprintf("alg %q", alg), url: d.url("/agents?limit=1"), token: tok, want: want401invalid})
		}
	}
	n, err := runProbes(ctx, t, ev, probes)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d unsigned tokens (alg none in 4 casings) refused on 4 doors with 401 invalid-token", n), nil
}

// publicKey returns the stack's public key (PKIX DER) and its kid: from the key at hand, else
// from the gateway's JWKS, which is what an attacker would use.
func publicKey(ctx context.Context, t *Target, ev *evidence) ([]byte, string, error) {
	if t.Key != nil {
		if t.Key.Algorithm() == token.HS256 {
			return nil, "", skipError("the stack signs with a shared secret (HS256): it has no public key to confuse")
		}
		p, err := t.Key.PublicKeyPEM()
		if err != nil {
			return nil, "", err
		}
		block, _ := pem.Decode(p)
		if block == nil {
			return nil, "", errors.New("the public key has no PEM block")
		}
		ev.add("setup: the public key of the key at hand (kid %s)", t.Key.KeyID())
		return block.Bytes, t.Key.KeyID(), nil
	}
	setup(ev, "the public key from the gateway's JWKS")
	a, err := t.do(ctx, ev, call{url: t.GatewayURL + "/.well-known/jwks.json"})
	if err != nil {
		return nil, "", err
	}
	var doc struct {
		Keys []struct{ Kty, Kid, Crv, N, E, X, Y string } `json:"keys"`
	}
	if a.status != http.StatusOK || a.json(&doc) != nil || len(doc.Keys) == 0 {
		return nil, "", skipError(fmt.Sprintf("no public key published at /.well-known/jwks.json (status %d) and none at hand (pass --key)", a.status))
	}
	k := doc.Keys[0]
	dec := base64.RawURLEncoding.DecodeString
	var pub any
	switch k.Kty {
	case "RSA":
		n, err1 := dec(k.N)
		e, err2 := dec(k.E)
		if err := errors.Join(err1, err2); err != nil {
			return nil, "", fmt.Errorf("the JWKS RSA key: %w", err)
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	case "EC":
		x, err1 := dec(k.X)
		y, err2 := dec(k.Y)
		if err := errors.Join(err1, err2); err != nil || k.Crv != "P-256" || len(x) != 32 || len(y) != 32 {
			return nil, "", fmt.Errorf("the JWKS EC key is not a P-256 point (%v)", err)
		}
		ec, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, "", fmt.Errorf("the JWKS EC key: %w", err)
		}
		pub = ec
	case "OKP":
		x, err := dec(k.X)
		if err != nil || k.Crv != "Ed25519" || len(x) != ed25519.PublicKeySize {
			return nil, "", fmt.Errorf("the JWKS OKP key is not an Ed25519 key (%v)", err)
		}
		pub = ed25519.PublicKey(x)
	default:
		return nil, "", skipError(fmt.Sprintf("the JWKS key type %q has no PEM form to confuse", k.Kty))
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, "", fmt.Errorf("encode the JWKS key: %w", err)
	}
	return der, k.Kid, nil
}

func jwtKeyConfusion(ctx context.Context, t *Target, ev *evidence) (string, error) {
	der, kid, err := publicKey(ctx, t, ev)
	if err != nil {
		return "", err
	}
	pemText := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	secrets := []struct {
		what   string
		secret []byte
	}{
		{"HS256 keyed with the public key PEM", pemText},
		{"HS256 keyed with the PEM without its last newline", []byte(strings.TrimSuffix(string(pemText), "\n"))},
		{"HS256 keyed with the public key DER", der},
		{"HS256 keyed with an empty secret", []byte{}},
	}
	claims := forgeClaims("verify-key-confusion-" + randomLabel())
	var probes []probe
	for _, d := range t.doors() {
		for _, s := range secrets {
			tok, err := forge(map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}, claims, hs256(s.secret))
			if err != nil {
				return "", err
			}
			probes = append(probes, probe{door: d, what: s.what, url: d.url("/agents?limit=1"), token: tok, want: want401invalid})
		}
	}
	n, err := runProbes(ctx, t, ev, probes)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d HS256 tokens keyed with the public key (PEM, DER) or nothing refused on 4 doors with 401 invalid-token", n), nil
}

func jwtExpired(ctx context.Context, t *Target, ev *evidence) (string, error) {
	tok, err := t.mint("verify-expired-"+randomLabel(), []string{token.RoleCustomerAdmin}, customer(demoCustomerA), func(c *token.Claims) {
		c.IssuedAt = jwtDate(time.Now().Add(-2 * time.Hour))
		c.ExpiresAt = jwtDate(time.Now().Add(-time.Hour))
	})
	if err != nil {
		return "", err
	}
	var probes []probe
	for _, d := range t.doors() {
		probes = append(probes, probe{door: d, what: "token expired an hour ago", url: d.url("/agents?limit=1"), token: tok,
			want: wantProblem([]int{http.StatusUnauthorized}, "token-expired")})
	}
	if _, err := runProbes(ctx, t, ev, probes); err != nil {
		return "", err
	}
	return "an expired token is refused on 4 doors with 401 token-expired", nil
}

func jwtFuture(ctx context.Context, t *Target, ev *evidence) (string, error) {
	sub := "verify-future-" + randomLabel()
	issuedLater, err := t.mint(sub, []string{token.RoleCustomerAdmin}, customer(demoCustomerA), func(c *token.Claims) {
		c.IssuedAt = jwtDate(time.Now().Add(time.Hour))
		c.ExpiresAt = jwtDate(time.Now().Add(2 * time.Hour))
	})
	if err != nil {
		return "", err
	}
	validLater, err := t.mint(sub, []string{token.RoleCustomerAdmin}, customer(demoCustomerA), func(c *token.Claims) {
		c.NotBefore = jwtDate(time.Now().Add(time.Hour))
		c.ExpiresAt = jwtDate(time.Now().Add(2 * time.Hour))
	})
	if err != nil {
		return "", err
	}
	var probes []probe
	for _, d := range t.doors() {
		probes = append(probes,
			probe{door: d, what: "iat an hour from now", url: d.url("/agents?limit=1"), token: issuedLater, want: want401invalid},
			probe{door: d, what: "nbf an hour from now", url: d.url("/agents?limit=1"), token: validLater, want: want401invalid})
	}
	n, err := runProbes(ctx, t, ev, probes)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d tokens issued or valid only in an hour refused on 4 doors with 401 invalid-token", n), nil
}

// validToken is a token the stack accepts, for the checks that move it out of its place.
func validToken(t *Target, label string) (string, error) {
	return authToken(t, "verify-"+label+"-"+randomLabel(), []string{token.RoleCustomerAdmin}, customer(demoCustomerA))
}

func tokenInQuery(ctx context.Context, t *Target, ev *evidence) (string, error) {
	tok, err := validToken(t, "query")
	if err != nil {
		return "", err
	}
	var probes []probe
	for _, d := range t.doors() {
		probes = append(probes, probe{door: d, what: "the token in the Authorization header (control)", url: d.url("/agents?limit=1"), token: tok, want: want200})
		for _, param := range []string{"access_token", "token"} {
			probes = append(probes, probe{door: d, what: "the token as ?" + param, url: d.url("/agents?limit=1&" + param + "=" + tok),
				shown: d.api + "/agents?limit=1&" + param + "=<token>", want: want401missing})
		}
	}
	if _, err := runProbes(ctx, t, ev, probes); err != nil {
		return "", err
	}
	return "a token the header makes 200 is ignored in the query (401 unauthorized) on 4 doors", nil
}

func tokenInCookie(ctx context.Context, t *Target, ev *evidence) (string, error) {
	tok, err := validToken(t, "cookie")
	if err != nil {
		return "", err
	}
	var probes []probe
	for _, d := range t.doors() {
		probes = append(probes,
			probe{door: d, what: "the token in the Authorization header (control)", url: d.url("/agents?limit=1"), token: tok, want: want200},
			probe{door: d, what: "Cookie: access_token=<token>", url: d.url("/agents?limit=1"),
				header: map[string]string{"Cookie": "access_token=" + tok}, want: want401missing},
			probe{door: d, what: "Cookie: token=<token>; jwt=<token>; Authorization=Bearer%20<token>", url: d.url("/agents?limit=1"),
				header: map[string]string{"Cookie": "token=" + tok + "; jwt=" + tok + "; Authorization=Bearer%20" + tok}, want: want401missing})
	}
	if _, err := runProbes(ctx, t, ev, probes); err != nil {
		return "", err
	}
	return "a token the header makes 200 is ignored in cookies (401 unauthorized) on 4 doors", nil
}

func authHeaderShape(ctx context.Context, t *Target, ev *evidence) (string, error) {
	tok, err := validToken(t, "header-shape")
	if err != nil {
		return "", err
	}
	// A trailing space or tab is not among them: HTTP strips it from every field value before
	// any server sees it (RFC 9110 §5.5), so it is not a shape a server can refuse.
	// The evidence names each shape in words: a quoted header with its token would be taken
	// for a credential by the report's redaction.
	shapes := []struct{ what, format string }{
		{"two spaces between scheme and token", "Bearer  %s"},
		{"a tab between scheme and token", "Bearer\t%s"},
		{"a space and a tab between scheme and token", "Bearer \t%s"},
		{"a third part after the token", "Bearer %s x"},
	}
	var probes []probe
	for _, d := range t.doors() {
		probes = append(probes, probe{door: d, what: "one space between scheme and token (control)", url: d.url("/agents?limit=1"), token: tok, want: want200})
		for _, s := range shapes {
			probes = append(probes, probe{door: d, what: s.what, url: d.url("/agents?limit=1"),
				header: map[string]string{"Authorization": fmt.Sprintf(s.format, tok)},
				want:   wantProblem([]int{http.StatusUnauthorized}, "invalid-token-format", "invalid-token")})
		}
	}
	if _, err := runProbes(ctx, t, ev, probes); err != nil {
		return "", err
	}
	return "only one space between the scheme and the token is accepted; extra spaces, tabs and parts get 401 on 4 doors", nil
}

func mixedRoles(ctx context.Context, t *Target, ev *evidence) (string, error) {
	mixes := []struct {
		roles      []string
		customerID string
	}{
		{[]string{token.RoleCustomerAdmin, token.RoleViewer}, demoCustomerA},
		{[]string{token.RoleCustomerUser, token.RoleAdmin}, demoCustomerA},
		{[]string{token.RoleCustomerAdmin, token.RoleSubscriptionManager}, ""},
	}
	var probes []probe
	for _, m := range mixes {
		tok, err := t.mint("verify-mixed-"+randomLabel(), m.roles, customer(m.customerID))
		if err != nil {
			return "", err
		}
		what := "roles " + strings.Join(m.roles, "+")
		if m.customerID != "" {
			what += " with a customer_id"
		}
		for _, d := range t.doors() {
			probes = append(probes, probe{door: d, what: what + ", reading another customer", url: d.url("/customers/" + demoCustomerB), token: tok, want: want401invalid})
		}
	}
	n, err := runProbes(ctx, t, ev, probes)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d tokens mixing customer and platform roles refused on 4 doors with 401 invalid-token", n), nil
}

// otherTenant makes tenant B through the stack itself, the way the full suite does: a customer
// (PP, subscription manager), a trial (CP, its admin) and a subscription to another agent (PP).
type otherTenant struct {
	customerID, trialID, subscriptionID string
	sm                                  string // a subscription manager's token
}

func newOtherTenant(ctx context.Context, t *Target, ev *evidence, label string) (*otherTenant, error) {
	setup(ev, "tenant B: a customer through PP, a trial through CP, a subscription through PP")
	cust, trial, admin, err := startTrial(ctx, t, ev, label)
	if err != nil {
		return nil, err
	}
	sm, err := t.mint("verify-subscription-manager-"+randomLabel(), []string{token.RoleSubscriptionManager})
	if err != nil {
		return nil, err
	}
	agent, err := someAgent(ctx, t, ev, admin, 2)
	if err != nil {
		return nil, err
	}
	a, err := t.do(ctx, ev, call{method: http.MethodPost, url: t.PPURL + "/api/customers/" + cust + "/subscription", token: sm, body: map[string]string{"agent_id": agent}})
	if err != nil {
		return nil, err
	}
	var sub struct {
		ID string `json:"id"`
	}
	if a.status != http.StatusCreated || a.json(&sub) != nil || sub.ID == "" {
		return nil, fmt.Errorf("subscribe tenant B through PP: status %d, want 201 with an id", a.status)
	}
	return &otherTenant{customerID: cust, trialID: trial, subscriptionID: sub.ID, sm: sm}, nil
}

// tenantToken makes tenant A, a fresh customer, and returns a token of role for it.
func tenantToken(ctx context.Context, t *Target, ev *evidence, label, role string) (string, error) {
	setup(ev, "tenant A: a customer through PP")
	cust, err := newCustomer(ctx, t, ev, label)
	if err != nil {
		return "", err
	}
	return t.mint("verify-"+label+"-"+randomLabel(), []string{role}, customer(cust))
}

func crossTenant(ctx context.Context, t *Target, ev *evidence) (string, error) {
	b, err := newOtherTenant(ctx, t, ev, "cross-tenant-b")
	if err != nil {
		return "", err
	}
	a, err := tenantToken(ctx, t, ev, "cross-tenant-a", token.RoleCustomerAdmin)
	if err != nil {
		return "", err
	}
	agent, err := someAgent(ctx, t, ev, a, 3)
	if err != nil {
		return "", err
	}
	// Every operation a customer admin holds the permission for, aimed at B's ids: each must
	// be a 404, as if B did not exist. Creating a trial for B may instead be refused as
	// invalid input (422: "must be your own customer id"), which says nothing about B either.
	var probes []probe
	for _, d := range t.doors() {
		cust, trial, sub := "/customers/"+b.customerID, "/trials/"+b.trialID, "/customers/"+b.customerID+"/subscriptions/"+b.subscriptionID
		probes = append(probes,
			probe{door: d, what: "A reads B's customer", url: d.url(cust), token: a, want: want404},
			probe{door: d, what: "A lists B's subscriptions", url: d.url(cust + "/subscriptions"), token: a, want: want404},
			probe{door: d, what: "A subscribes B", method: http.MethodPost, url: d.url(cust + "/subscription"), token: a, body: map[string]string{"agent_id": agent}, want: want404},
			probe{door: d, what: "A cancels B's subscription", method: http.MethodDelete, url: d.url(sub), token: a, want: want404},
			probe{door: d, what: "A reads B's trial", url: d.url(trial), token: a, want: want404},
			probe{door: d, what: "A cancels B's trial", method: http.MethodPatch, url: d.url(trial), token: a, body: map[string]string{"status": "cancelled"}, want: want404},
			probe{door: d, what: "A starts a trial for B", method: http.MethodPost, url: d.url("/trials"), token: a,
				body: map[string]string{"agent_id": agent, "customer_id": b.customerID}, want: wantProblem([]int{http.StatusNotFound, http.StatusUnprocessableEntity})},
			probe{door: d, what: "A lists trials filtered to B", url: d.url("/trials?customer_id=" + b.customerID), token: a, want: wantAbsent(b.trialID, "B's trial")},
			probe{door: d, what: "A lists customers", url: d.url("/customers?limit=100"), token: a, want: wantAbsent(b.customerID, "B")},
		)
	}
	// B's data must be as it was: the trial active, the subscription still there.
	pp := t.door("pp")
	probes = append(probes,
		probe{door: pp, what: "B's trial afterwards, read by a subscription manager", url: pp.url("/trials/" + b.trialID), token: b.sm, want: wantField("status", "active")},
		probe{door: pp, what: "B's subscriptions afterwards, read by a subscription manager", url: pp.url("/customers/" + b.customerID + "/subscriptions"), token: b.sm, want: wantField("total", "1")},
	)
	n, err := runProbes(ctx, t, ev, probes)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d requests with another tenant's ids: every read, change and cancel 404 on 4 doors; B unchanged", n), nil
}

// wantField is a 200 JSON object whose member name reads value.
func wantField(name, value string) want {
	return want{desc: fmt.Sprintf("200 with %s %s", name, value), check: func(a *answer) error {
		if a.status != http.StatusOK {
			return fmt.Errorf("status %d", a.status)
		}
		var m map[string]any
		if err := a.json(&m); err != nil {
			return err
		}
		if got := fmt.Sprint(m[name]); got != value {
			return fmt.Errorf("%s %s", name, got)
		}
		return nil
	}}
}

func identityHeaders(ctx context.Context, t *Target, ev *evidence) (string, error) {
	b, err := newOtherTenant(ctx, t, ev, "identity-b")
	if err != nil {
		return "", err
	}
	a, err := tenantToken(ctx, t, ev, "identity-a", token.RoleCustomerUser)
	if err != nil {
		return "", err
	}
	// What a client would send to be someone else: B's user, platform roles, B's tenant.
	spoof := map[string]string{
		"X-User-ID":     "verify-identity-b-admin",
		"X-User-Roles":  token.RoleAdmin + "," + token.RoleSubscriptionManager,
		"X-Customer-ID": b.customerID,
	}
	const what = "A's token with X-User-ID, X-User-Roles admin and X-Customer-ID of B"
	var probes []probe
	for _, d := range t.doors() {
		probes = append(probes,
			probe{door: d, what: what + ", reading B's customer", url: d.url("/customers/" + b.customerID), token: a, header: spoof, want: want404},
			probe{door: d, what: what + ", reading B's trial", url: d.url("/trials/" + b.trialID), token: a, header: spoof, want: want404},
			probe{door: d, what: what + ", listing trials", url: d.url("/trials?limit=100"), token: a, header: spoof, want: wantAbsent(b.trialID, "B's trial")},
			probe{door: d, what: what + ", listing customers", url: d.url("/customers?limit=100"), token: a, header: spoof, want: wantAbsent(b.customerID, "B")},
		)
	}
	n, err := runProbes(ctx, t, ev, probes)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d requests with spoofed identity headers on 4 doors: the caller stayed who its token says", n), nil
}

func backendDoor(ctx context.Context, t *Target, ev *evidence) (string, error) {
	setup(ev, "a customer's own trial, through CP")
	cust, trial, _, err := startTrial(ctx, t, ev, "backend-door")
	if err != nil {
		return "", err
	}
	user, err := t.mint("verify-door-user-"+randomLabel(), []string{token.RoleCustomerUser}, customer(cust))
	if err != nil {
		return "", err
	}
	viewer, err := t.mint("verify-door-viewer-"+randomLabel(), []string{token.RoleViewer})
	if err != nil {
		return "", err
	}
	expired, err := t.mint("verify-door-trial-"+randomLabel(), []string{token.RoleCustomerUser}, customer(cust), func(c *token.Claims) {
		c.TrialMode = true
		end := time.Now().Add(-time.Hour)
		c.TrialExpiresAt = &end
	})
	if err != nil {
		return "", err
	}
	label := randomLabel()
	denied := wantProblem([]int{http.StatusForbidden}, "permission-denied")
	var probes []probe
	// The gateway's answer first, then the backend's own port: they must agree.
	for _, name := range []string{"gateway", "backend"} {
		d := t.door(name)
		probes = append(probes,
			probe{door: d, what: "customer_user creates an agent", method: http.MethodPost, url: d.url("/agents"), token: user,
				body: map[string]any{"name": "Verify door " + label, "industry": "sales", "specialty": "verification"}, want: denied},
			probe{door: d, what: "viewer creates a customer", method: http.MethodPost, url: d.url("/customers"), token: viewer,
				body: map[string]string{"name": "Verify door " + label, "email": "door-" + label + "@verify.waooaw.test"}, want: denied},
			probe{door: d, what: "customer_user cancels its own trial", method: http.MethodPatch, url: d.url("/trials/" + trial), token: user,
				body: map[string]string{"status": "cancelled"}, want: denied},
			probe{door: d, what: "an expired trial's token reads agents", url: d.url("/agents?limit=1"), token: expired,
				want: wantProblem([]int{http.StatusForbidden}, "trial-expired")},
		)
	}
	n, err := runProbes(ctx, t, ev, probes)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d requests: the backend's own port refuses what the gateway refuses (403)", n), nil
}

func policyWrites(ctx context.Context, t *Target, ev *evidence) (string, error) {
	if t.OPAURL == "" {
		return "", skipError("no OPA URL for this target (pass --opa-url)")
	}
	d := door{name: "opa", base: t.OPAURL}
	label := "verify_probe_" + randomLabel()
	policy := []byte("package " + label + "\n\nprobe := true\n")
	refused := wantStatus(http.StatusUnauthorized, http.StatusForbidden)
	text := map[string]string{"Content-Type": "text/plain"}
	// Each write is harmless if it lands (a new policy and new data under a fresh name), and
	// each is undone by the delete after it, so a weak engine is left as it was found.
	probes := []probe{
		{door: d, what: "unauthenticated policy upload", method: http.MethodPut, url: d.url("/v1/policies/" + label), raw: policy, header: text, want: refused},
		{door: d, what: "unauthenticated policy delete", method: http.MethodDelete, url: d.url("/v1/policies/" + label), want: refused},
		{door: d, what: "unauthenticated data write", method: http.MethodPut, url: d.url("/v1/data/" + label), body: map[string]bool{"written": true}, want: refused},
		{door: d, what: "unauthenticated data patch", method: http.MethodPatch, url: d.url("/v1/data"),
			raw: []byte(`[{"op":"add","path":"/` + label + `_patch","value":true}]`), header: map[string]string{"Content-Type": "application/json-patch+json"}, want: refused},
		{door: d, what: "unauthenticated data delete", method: http.MethodDelete, url: d.url("/v1/data/" + label), want: refused},
		{door: d, what: "unauthenticated data delete", method: http.MethodDelete, url: d.url("/v1/data/" + label + "_patch"), want: refused},
	}
	n, err := runProbes(ctx, t, ev, probes)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d unauthenticated policy and data writes refused (401/403)", n), nil
}

// auditRows waits until the gateway's audit holds a row for each correlation id (the audit is
// written in batches, every quarter second), and returns the rows' gateway types by id.
func auditRows(ctx context.Context, conn *pgx.Conn, ev *evidence, ids []string) (map[string][]string, error) {
	const q = `SELECT correlation_id, coalesce(gateway_type, '') FROM gateway_audit_logs WHERE correlation_id = ANY($1) ORDER BY id`
	deadline := time.Now().Add(5 * time.Second)
	for {
		rows, err := conn.Query(ctx, q, ids)
		if err != nil {
			ev.add("SQL: %s → %v", q, err)
			return nil, fmt.Errorf("read the audit: %w", err)
		}
		got := map[string][]string{}
		for rows.Next() {
			var id, typ string
			if err := rows.Scan(&id, &typ); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read the audit: %w", err)
			}
			got[id] = append(got[id], typ)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read the audit: %w", err)
		}
		if len(got) == len(ids) || time.Now().After(deadline) {
			ev.add("SQL: %s → %v", q, got)
			return got, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// auditConn connects to the target's database for the checks that read the gateway's audit,
// or says why they are skipped.
func auditConn(ctx context.Context, t *Target, ev *evidence) (*pgx.Conn, error) {
	if t.DatabaseURL == "" {
		return nil, skipError("reads the gateway's audit: no database URL for this target (pass --database-url)")
	}
	conn, err := pgx.Connect(ctx, t.DatabaseURL)
	if err != nil {
		ev.add("connect: %v", err)
		return nil, skipError("the database is not reachable from here: " + err.Error())
	}
	return conn, nil
}

func gatewayTypeSpoof(ctx context.Context, t *Target, ev *evidence) (string, error) {
	conn, err := auditConn(ctx, t, ev)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tok, err := authToken(t, "verify-spoof-"+randomLabel(), []string{token.RoleCustomerAdmin}, customer(demoCustomerA))
	if err != nil && !errors.Is(err, errNeedsKey) {
		return "", err
	}
	// Without a token the gateway answers 401, and audits that as well.
	spoofPP, spoofCP, viaPP := "verify-spoof-"+randomLabel(), "verify-spoof-"+randomLabel(), "verify-portal-"+randomLabel()
	gw, pp := t.door("gateway"), t.door("pp")
	probes := []probe{
		{door: gw, what: "X-Gateway-Type: PP from the client", url: gw.url("/agents?limit=1"), token: tok,
			header: map[string]string{"X-Gateway-Type": "PP", "X-Correlation-ID": spoofPP}, want: wantStatus(http.StatusOK, http.StatusUnauthorized)},
		{door: gw, what: "X-Gateway-Type: cp from the client", url: gw.url("/agents?limit=1"), token: tok,
			header: map[string]string{"X-Gateway-Type": "cp", "X-Correlation-ID": spoofCP}, want: wantStatus(http.StatusOK, http.StatusUnauthorized)},
		{door: pp, what: "the same request through PP (control)", url: pp.url("/agents?limit=1"), token: tok,
			header: map[string]string{"X-Correlation-ID": viaPP}, want: wantStatus(http.StatusOK, http.StatusUnauthorized)},
	}
	if _, err := runProbes(ctx, t, ev, probes); err != nil {
		return "", err
	}
	rows, err := auditRows(ctx, conn, ev, []string{spoofPP, spoofCP, viaPP})
	if err != nil {
		return "", err
	}
	if len(rows[viaPP]) == 0 {
		return "", skipError("the gateway wrote no audit row to this database for a request through PP within 5s: its audit cannot be read here")
	}
	for _, id := range []string{spoofPP, spoofCP} {
		got := rows[id]
		if len(got) == 0 {
			return "", fmt.Errorf("a direct request with X-Gateway-Type left no audit row (correlation id %s)", id)
		}
		for _, typ := range got {
			if typ != "direct" {
				return "", fmt.Errorf("a direct request claiming to be a portal is audited as %q, want direct (correlation id %s)", typ, id)
			}
		}
	}
	// PP's own requests audited as direct is no hole (nobody is believed), but the audit then
	// cannot tell the portals apart: the portals do not prove themselves to the gateway.
	if typ := rows[viaPP][0]; typ != "PP" {
		ev.add("PP's own request is audited as %q: the portals do not prove themselves to the gateway (PORTAL_SECRET)", typ)
		return fmt.Sprintf("direct requests claiming X-Gateway-Type PP or CP are audited as direct (but so is PP's own: %q)", typ), nil
	}
	return "direct requests claiming X-Gateway-Type PP or CP are audited as direct; PP's own as PP", nil
}

func badBytes(ctx context.Context, t *Target, ev *evidence) (string, error) {
	tok, err := validToken(t, "bad-bytes")
	if err != nil && !errors.Is(err, errNeedsKey) {
		return "", err
	}
	invalidInput := wantProblem([]int{http.StatusUnprocessableEntity}, "validation-error")
	refusedPath := wantProblem([]int{http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity})
	var probes []probe
	auditID := "verify-bad-path-" + randomLabel()
	for _, d := range t.doors() {
		if tok != "" {
			for _, q := range []string{"q=%00", "q=%ff", "q=%c3", "industry=%00"} {
				probes = append(probes, probe{door: d, what: "query " + q, url: d.url("/agents?" + q), token: tok, want: invalidInput})
			}
			probes = append(probes, probe{door: d, what: "path with %00", url: d.url("/agents/%00"), token: tok, want: refusedPath})
		}
		var header map[string]string
		if d.name == "gateway" {
			header = map[string]string{"X-Correlation-ID": auditID}
		}
		probes = append(probes,
			probe{door: d, what: "path with %00, no token", url: d.url("/agents/%00"), header: header, want: refusedPath},
			probe{door: d, what: "path with %ff, no token", url: d.url("/%ff/x"), want: refusedPath})
	}
	if tok == "" {
		ev.add("the bad query values not tried: they need a token the stack accepts (--key or --token)")
	}
	if t.Key != nil {
		for _, c := range []struct {
			what string
			set  func(*token.Claims)
		}{
			{`sub holding "\n"`, func(c *token.Claims) { c.Subject += "\nX-Injected: 1" }},
			{`user_id holding "\r"`, func(c *token.Claims) { c.UserID += "\r" }},
			{`customer_id holding "\x00"`, func(c *token.Claims) { c.CustomerID += "\x00" }},
			{`sub holding "\x7f"`, func(c *token.Claims) { c.Subject += "\x7f" }},
		} {
			bad, err := t.mint("verify-control-"+randomLabel(), []string{token.RoleCustomerAdmin}, customer(demoCustomerA), c.set)
			if err != nil {
				return "", err
			}
			for _, d := range t.doors() {
				probes = append(probes, probe{door: d, what: "a signed token with " + c.what, url: d.url("/agents?limit=1"), token: bad, want: want401invalid})
			}
		}
	} else {
		ev.add("tokens with control characters in their claims not tried: they need the stack's signing key")
	}
	n, err := runProbes(ctx, t, ev, probes)
	if err != nil {
		return "", err
	}
	// A request the gateway refused must still be in its audit, bad bytes and all: else anyone
	// could probe with a stolen token unseen.
	conn, err := auditConn(ctx, t, ev)
	if err != nil {
		ev.add("the audit row of the bad path not checked: %v", err)
		return fmt.Sprintf("%d requests with NUL, invalid UTF-8 or control bytes: every one a 4xx problem", n), nil
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := auditRows(ctx, conn, ev, []string{auditID})
	if err != nil {
		return "", err
	}
	if got := len(rows[auditID]); got != 1 {
		return "", fmt.Errorf("the gateway's request with %%00 in its path has %d audit rows, want exactly 1 (correlation id %s)", got, auditID)
	}
	return fmt.Sprintf("%d requests with NUL, invalid UTF-8 or control bytes: every one a 4xx problem; the gateway audited the bad path", n), nil
}

func oversizedHeader(ctx context.Context, t *Target, ev *evidence) (string, error) {
	padding := strings.Repeat("a", 70<<10)
	// Shaped like a token, so that it is redacted should any part of it ever be shown.
	huge := "eyJhbGciOiJSUzI1NiJ9." + strings.Repeat("A", 100<<10) + ".c2ln"
	tooLarge := wantProblem([]int{http.StatusRequestHeaderFieldsTooLarge}, "request-header-fields-too-large")
	var probes []probe
	for _, d := range t.doors() {
		probes = append(probes,
			probe{door: d, what: "a 70 KB header", url: d.url("/agents?limit=1"), header: map[string]string{"X-Verify-Padding": padding}, want: tooLarge},
			probe{door: d, what: "a 100 KB token in the Authorization header", url: d.url("/agents?limit=1"), header: map[string]string{"Authorization": "Bearer " + huge},
				want: wantProblem([]int{http.StatusRequestHeaderFieldsTooLarge, http.StatusUnauthorized}, "request-header-fields-too-large", "invalid-token")},
		)
	}
	if _, err := runProbes(ctx, t, ev, probes); err != nil {
		return "", err
	}
	return "a 70 KB header and a 100 KB token get RFC 9457 problems (431) on 4 doors", nil
}
