package token

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestClaimsJSON(t *testing.T) {
	trialEnd := time.Date(2025, 6, 8, 12, 0, 0, 0, time.FixedZone("IST", 5*3600+1800))
	c := &Claims{
		Subject:         "u1",
		UserID:          "user-1",
		Email:           "u@example.com",
		Roles:           []string{RoleCustomerUser},
		CustomerID:      "c1",
		GovernorAgentID: "g1",
		AgentID:         "a1",
		TrialMode:       true,
		TrialExpiresAt:  &trialEnd,
		Issuer:          DefaultIssuer,
		Audience:        jwt.ClaimStrings{"api"},
		IssuedAt:        jwt.NewNumericDate(testNow),
		ExpiresAt:       jwt.NewNumericDate(testNow.Add(time.Hour)),
		NotBefore:       jwt.NewNumericDate(testNow),
		ID:              "j1",
		// Extra never overrides a named claim.
		Extra: map[string]any{"team": "growth", "email": "evil@example.com", "roles": []string{"admin"}},
	}
	const want = `{"agent_id":"a1","aud":["api"],"customer_id":"c1","email":"u@example.com","exp":1748782800,` +
		`"governor_agent_id":"g1","iat":1748779200,"iss":"waooaw.com","jti":"j1","nbf":1748779200,` +
		`"roles":["customer_user"],"sub":"u1","team":"growth","trial_expires_at":"2025-06-08T06:30:00Z",` +
		`"trial_mode":true,"user_id":"user-1"}`
	for name, v := range map[string]any{"pointer": c, "value": *c} {
		got, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("Marshal %s: %v", name, err)
		}
		if string(got) != want {
			t.Errorf("Marshal %s:\n got %s\nwant %s", name, got, want)
		}
	}

	var back Claims
	if err := json.Unmarshal([]byte(want), &back); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	wantBack := *c
	utcEnd := trialEnd.UTC()
	wantBack.TrialExpiresAt = &utcEnd
	wantBack.Extra = map[string]any{"team": "growth"}
	if !reflect.DeepEqual(back, wantBack) {
		t.Errorf("Unmarshal:\n got %+v\nwant %+v", back, wantBack)
	}
}

func TestClaimsJSONMinimal(t *testing.T) {
	got, err := json.Marshal(&Claims{Subject: "s", Roles: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	// Optional claims are left out; an empty roles list stays visible.
	if want := `{"roles":[],"sub":"s"}`; string(got) != want {
		t.Errorf("Marshal = %s, want %s", got, want)
	}
}

func TestClaimsUnmarshalErrors(t *testing.T) {
	tests := []struct {
		payload    string
		wantReason string
	}{
		{`{"roles":"admin"}`, `claim "roles" has the wrong type`},
		{`{"exp":"tomorrow"}`, `claim "exp" has the wrong type`},
		{`{"trial_mode":"yes"}`, `claim "trial_mode" has the wrong type`},
		{`{"trial_expires_at":"next week"}`, `claim "trial_expires_at" has the wrong type`},
		{`{"trial_expires_at":1748779200}`, `claim "trial_expires_at" has the wrong type`},
		{`{"sub":7}`, `claim "sub" has the wrong type`},
	}
	for _, tt := range tests {
		var c Claims
		if reason := reasonOf(t, json.Unmarshal([]byte(tt.payload), &c)); reason != tt.wantReason {
			t.Errorf("Unmarshal(%s) reason = %q, want %q", tt.payload, reason, tt.wantReason)
		}
	}

	var c Claims
	if err := json.Unmarshal([]byte(`{"sub":null,"aud":"one","roles":null}`), &c); err != nil {
		t.Fatalf("Unmarshal with nulls: %v", err)
	}
	if c.Subject != "" || c.Roles != nil || !slices.Equal(c.Audience, []string{"one"}) {
		t.Errorf("Unmarshal with nulls = %+v", c)
	}
}

func TestNewClaims(t *testing.T) {
	roles := []string{RoleViewer}
	c := NewClaims("s1", "s1@example.com", roles, 15*time.Minute, testNow)
	roles[0] = RoleAdmin // NewClaims must have copied the roles
	if c.Subject != "s1" || c.UserID != "s1" || c.Email != "s1@example.com" || c.Issuer != DefaultIssuer {
		t.Errorf("NewClaims identity = %+v", c)
	}
	if !slices.Equal(c.Roles, []string{RoleViewer}) {
		t.Errorf("roles = %v, want [viewer]", c.Roles)
	}
	if !c.IssuedAt.Equal(testNow) || !c.ExpiresAt.Equal(testNow.Add(15*time.Minute)) {
		t.Errorf("iat/exp = %v/%v", c.IssuedAt, c.ExpiresAt)
	}
	if other := NewClaims("s1", "e", roles, time.Minute, testNow); c.ID == "" || c.ID == other.ID {
		t.Errorf("jti %q is not random (other %q)", c.ID, other.ID)
	}
}

func TestRoles(t *testing.T) {
	roles := Roles()
	if len(roles) != 9 {
		t.Fatalf("Roles() has %d roles, want 9", len(roles))
	}
	roles[0] = "mutated"
	if Roles()[0] != RoleCustomerUser {
		t.Error("Roles() returns a shared slice")
	}
	for _, r := range Roles() {
		if !IsKnownRole(r) {
			t.Errorf("IsKnownRole(%q) = false", r)
		}
		if want := r == RoleCustomerUser || r == RoleCustomerAdmin; IsCustomerRole(r) != want {
			t.Errorf("IsCustomerRole(%q) = %v", r, !want)
		}
	}
	for _, r := range []string{"", "root", "Admin"} {
		if IsKnownRole(r) {
			t.Errorf("IsKnownRole(%q) = true", r)
		}
	}
}

func TestClaimsRolePredicates(t *testing.T) {
	tests := []struct {
		name           string
		roles          []string
		customer       string
		governor       string
		customerScoped bool
		isGovernor     bool
	}{
		{"customer user", []string{RoleCustomerUser}, "", "", true, false},
		{"customer admin and user", []string{RoleCustomerAdmin, RoleCustomerUser}, "", "", true, false},
		{"customer and platform role", []string{RoleCustomerUser, RoleViewer}, "", "", false, false},
		{"platform role", []string{RoleHelpdeskAgent}, "", "", false, false},
		{"platform role with a customer is scoped to it", []string{RoleViewer}, "c-1", "", true, false},
		{"admin with a customer is scoped to it", []string{RoleAdmin}, "c-1", "", true, false},
		{"no roles fails closed", nil, "", "", true, false},
		{"admin", []string{RoleAdmin}, "", "", false, false},
		{"governor", []string{RoleAdmin}, "", "gov-1", false, true},
		{"blank governor id is no governor", []string{RoleAdmin}, "", " ", false, false},
		{"whitespace governor id is no governor", []string{RoleAdmin}, "", "\t\n", false, false},
		{"governor id without admin", []string{RoleSubscriptionManager}, "", "gov-1", false, false},
	}
	for _, tt := range tests {
		c := &Claims{Roles: tt.roles, CustomerID: tt.customer, GovernorAgentID: tt.governor}
		if got := c.IsCustomerScoped(); got != tt.customerScoped {
			t.Errorf("%s: IsCustomerScoped = %v, want %v", tt.name, got, tt.customerScoped)
		}
		if got := c.IsGovernor(); got != tt.isGovernor {
			t.Errorf("%s: IsGovernor = %v, want %v", tt.name, got, tt.isGovernor)
		}
		for _, r := range tt.roles {
			if !c.HasRole(r) {
				t.Errorf("%s: HasRole(%q) = false", tt.name, r)
			}
		}
		if c.HasRole(RoleIndustryManager) {
			t.Errorf("%s: HasRole(industry_manager) = true", tt.name)
		}
	}
}

func TestCheckRoles(t *testing.T) {
	tests := []struct {
		roles []string
		want  string // "" accepted, else the reason
	}{
		{[]string{RoleCustomerUser}, ""},
		{[]string{RoleCustomerAdmin, RoleCustomerUser}, ""},
		{[]string{RoleAdmin, RoleViewer}, ""},
		{nil, `claim "roles" must not be empty`},
		{[]string{"root"}, `unknown role "root"`},
		{[]string{RoleCustomerAdmin, RoleViewer}, "roles mix the customer role customer_admin with the platform role viewer; a token holds one kind"},
		{[]string{RoleAdmin, RoleCustomerUser}, "roles mix the customer role customer_user with the platform role admin; a token holds one kind"},
	}
	for _, tt := range tests {
		err := CheckRoles(tt.roles)
		var inv *InvalidError
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckRoles(%q) = %v, want nil", tt.roles, err)
		case tt.want != "" && (!errors.As(err, &inv) || inv.Reason != tt.want):
			t.Errorf("CheckRoles(%q) = %v, want %q", tt.roles, err, tt.want)
		}
	}
	// Every customer role with every platform role is refused.
	for _, c := range Roles() {
		for _, p := range Roles() {
			if IsCustomerRole(c) && !IsCustomerRole(p) {
				if CheckRoles([]string{c, p}) == nil || CheckRoles([]string{p, c}) == nil {
					t.Errorf("CheckRoles accepts %s with %s", c, p)
				}
			}
		}
	}
}
