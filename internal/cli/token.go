package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/waooaw/waooaw/internal/token"
)

// DemoCustomerID is the first seeded demo customer: minted customer tokens belong to it unless
// told otherwise.
const DemoCustomerID = "11111111-1111-4111-8111-111111111111"

func newTokenCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint and inspect test JWTs the stack accepts",
	}
	cmd.AddCommand(newTokenMintCmd(e), newTokenInspectCmd(e))
	return cmd
}

// mintOptions are the claims `token mint` puts in a token.
type mintOptions struct {
	roles        []string
	sub, email   string
	customerID   string
	agentID      string
	governor     bool
	trial        bool
	trialExpires string
	ttl          time.Duration
	claims       []string
	output       string
	keyFile      string
	// allowInvalid mints tokens the stack refuses (mixed roles, too long a lifetime), to test
	// that it does refuse them.
	allowInvalid bool
}

func newTokenMintCmd(e *env) *cobra.Command {
	o := &mintOptions{}
	cmd := &cobra.Command{
		Use:   "mint",
		Short: "Mint a signed test token (the token alone on stdout, its claims on stderr)",
		Example: `  curl -H "Authorization: Bearer $(waooaw token mint)" localhost:8015/api/agents
  waooaw token mint --role subscription_manager --ttl 1h -o header
  waooaw token mint --role admin --governor
  waooaw token mint --key other-env-key.pem     # sign for a stack that holds another key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := loadSigningKey(e, o.keyFile)
			if err != nil {
				return err
			}
			claims, err := o.build(time.Now())
			if err != nil {
				return usageErr(err)
			}
			raw, err := key.Sign(claims)
			if err != nil {
				return fmt.Errorf("sign the token: %w", err)
			}
			return writeToken(e, o.output, raw, claims)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.roles, "role", nil, "role to grant (repeatable; default customer_admin)")
	f.StringVar(&o.sub, "sub", "", "subject and user_id (default derived from the first role)")
	f.StringVar(&o.email, "email", "", "email claim (default <sub>@waooaw.test)")
	f.StringVar(&o.customerID, "customer-id", "", "tenant (default the first demo customer for customer roles)")
	f.StringVar(&o.agentID, "agent-id", "", "agent_id claim (the budget is charged to it)")
	f.BoolVar(&o.governor, "governor", false, "make the token a Governor's: role admin with a governor_agent_id")
	f.BoolVar(&o.trial, "trial", false, "mark the token as a trial user's")
	f.StringVar(&o.trialExpires, "trial-expires", "", "trial end, RFC 3339 or a duration from now (default 7d from now: 168h)")
	f.DurationVar(&o.ttl, "ttl", 15*time.Minute, "lifetime of the token (the stack accepts at most "+shortDuration(token.DefaultMaxLifetime)+")")
	f.StringArrayVar(&o.claims, "claim", nil, "extra claim k=v (repeatable; v parsed as JSON when it can be)")
	f.StringVarP(&o.output, "output", "o", "raw", "raw|json|header")
	f.StringVar(&o.keyFile, "key", "", "PEM private key to sign with (default: the project's key, which the stack trusts)")
	f.BoolVar(&o.allowInvalid, "allow-invalid", false, "mint it even though the stack will refuse it (mixed roles, --ttl over the limit), to test rejections")
	return cmd
}

// loadSigningKey reads the key at path, or else the project's own key (generated on first use,
// so a token minted before the first `up` still works once the stack runs).
func loadSigningKey(e *env, path string) (*token.SigningKey, error) {
	if path == "" {
		project, err := e.openProject()
		if err != nil {
			return nil, usageErr(err)
		}
		key, err := project.EnsureKey()
		if err != nil {
			return nil, environmentErr(fmt.Errorf("the project's signing key: %w", err))
		}
		return key, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, configErr(fmt.Errorf("read the signing key: %w", err))
	}
	key, err := token.ParseSigningKeyPEM(data)
	if err != nil {
		return nil, configErr(fmt.Errorf("%s: %w", path, err))
	}
	return key, nil
}

func (o *mintOptions) build(now time.Time) (*token.Claims, error) {
	roles := o.roles
	if len(roles) == 0 {
		// A Governor is a platform admin: the customer default would make a mixed token.
		roles = []string{token.RoleCustomerAdmin}
		if o.governor {
			roles = []string{token.RoleAdmin}
		}
	}
	if o.governor && !slices.Contains(roles, token.RoleAdmin) {
		roles = append(roles, token.RoleAdmin)
	}
	for _, r := range roles {
		if !token.IsKnownRole(r) {
			return nil, fmt.Errorf("--role %q is not a known role; known roles: %s", r, strings.Join(token.Roles(), ", "))
		}
	}
	if o.ttl <= 0 {
		return nil, fmt.Errorf("--ttl must be positive, got %s", o.ttl)
	}
	if !o.allowInvalid {
		// The stack's own rules, so a mint never hands out a token the stack will refuse
		// unless asked to.
		if err := token.CheckRoles(roles); err != nil {
			return nil, fmt.Errorf("--role: %w (--allow-invalid mints it anyway)", err)
		}
		if o.ttl > token.DefaultMaxLifetime {
			return nil, fmt.Errorf("--ttl %s is over the stack's limit of %s on a token's lifetime (--allow-invalid mints it anyway)", shortDuration(o.ttl), shortDuration(token.DefaultMaxLifetime))
		}
	}
	sub := o.sub
	if sub == "" {
		sub = "dev-" + strings.ReplaceAll(roles[0], "_", "-")
	}
	email := o.email
	if email == "" {
		email = sub + "@waooaw.test"
	}
	c := token.NewClaims(sub, email, roles, o.ttl, now)
	// Decided from the roles, not IsCustomerScoped: that is true of any token naming a customer,
	// so it cannot say whether one should be added. A platform token gets no tenant.
	c.CustomerID = o.customerID
	if c.CustomerID == "" && slices.ContainsFunc(roles, token.IsCustomerRole) {
		c.CustomerID = DemoCustomerID
	}
	c.AgentID = o.agentID
	if o.governor {
		c.GovernorAgentID = o.agentID
		if c.GovernorAgentID == "" {
			c.GovernorAgentID = "governor-" + sub
		}
	}
	if o.trial {
		exp, err := parseTrialExpiry(o.trialExpires, now)
		if err != nil {
			return nil, err
		}
		c.TrialMode, c.TrialExpiresAt = true, &exp
	} else if o.trialExpires != "" {
		return nil, errors.New("--trial-expires needs --trial")
	}
	for _, kv := range o.claims {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--claim %q must be key=value", kv)
		}
		if token.IsReservedClaim(k) {
			return nil, fmt.Errorf("--claim %s: set this claim with its own flag", k)
		}
		if c.Extra == nil {
			c.Extra = map[string]any{}
		}
		var val any
		if json.Unmarshal([]byte(v), &val) != nil {
			val = v
		}
		c.Extra[k] = val
	}
	return c, nil
}

func parseTrialExpiry(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return now.Add(7 * 24 * time.Hour).UTC().Truncate(time.Second), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(d).UTC().Truncate(time.Second), nil
	}
	return time.Time{}, fmt.Errorf("--trial-expires %q must be RFC 3339 (2026-12-01T00:00:00Z) or a duration (-1h, 72h)", s)
}

// writeToken puts the token on stdout in the asked form; the claims go to stderr for a person.
func writeToken(e *env, output, raw string, c *token.Claims) error {
	switch output {
	case "raw":
		fmt.Fprintln(e.stdout, raw)
		if data, err := json.Marshal(c); err == nil {
			fmt.Fprintf(e.stderr, "claims: %s\n", data)
		}
	case "header":
		fmt.Fprintf(e.stdout, "Authorization: Bearer %s\n", raw)
	case "json":
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"token": raw, "claims": c})
	default:
		return usageErr(fmt.Errorf("-o must be raw, json or header, got %q", output))
	}
	return nil
}

func newTokenInspectCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect TOKEN",
		Short: "Decode a token's header and claims (without trusting it) and say when it expires",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(args[0]), "Bearer "))
			header, claims, err := token.ParseUnverified(raw)
			if err != nil {
				return usageErr(fmt.Errorf("not a JWT: %w", err))
			}
			out := map[string]any{"header": header, "claims": claims}
			if claims.ExpiresAt != nil {
				left := time.Until(claims.ExpiresAt.Time).Round(time.Second)
				out["expires_in"] = left.String()
				out["expired"] = left <= 0
			}
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		},
	}
}

// shortDuration prints d without zero minutes and seconds ("24h", not "24h0m0s").
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
