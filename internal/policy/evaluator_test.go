package policy

import (
	"context"
	"testing"
	"time"
)

// TestEvaluatorMatchesTheServer asks the in-process evaluator and the embedded OPA server the
// same questions: the backend enforces exactly what the gateway gets from OPA.
func TestEvaluatorMatchesTheServer(t *testing.T) {
	ctx := context.Background()
	ev, err := NewEvaluator(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := startServer(t)
	client := newTestClient(t, srv.URL(), 5*time.Second)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	roles := []string{"admin", "agent_orchestrator", "customer_admin", "customer_user", "helpdesk_agent",
		"industry_manager", "infrastructure_engineer", "subscription_manager", "viewer"}
	perms := []string{"agent.view", "agent.create", "agent.delete", "customer.view", "customer.create",
		"subscription.create", "subscription.cancel", "subscription.view", "trial.create", "trial.view",
		"trial.update", "industry.view", "unknown.thing"}
	n := 0
	for _, role := range roles {
		for _, perm := range perms {
			for _, v := range []struct {
				method, governor string
				trial            Trial
			}{
				{"GET", "", Trial{}},
				{"POST", "gov-1", Trial{}},
				{"POST", " ", Trial{}},
				{"POST", "", Trial{Mode: true, ExpiresAt: future}},
				{"HEAD", "", Trial{Mode: true, ExpiresAt: past}},
				{"GET", "", Trial{Mode: true, ExpiresAt: "not a time"}},
			} {
				in := Input{Method: v.method, Permission: perm, User: User{Roles: []string{role}, GovernorAgentID: v.governor},
					Trial: v.trial, Limits: Limits{TrialTasksPerDay: 10}}
				got, err := ev.Decide(ctx, in)
				if err != nil {
					t.Fatalf("evaluator %+v: %v", in, err)
				}
				want, err := client.Decide(ctx, in)
				if err != nil {
					t.Fatalf("server %+v: %v", in, err)
				}
				if got.Allow != want.Allow || got.Deny != want.Deny || got.RBAC.Allowed != want.RBAC.Allowed ||
					got.Governor != want.Governor || got.Trial != want.Trial {
					t.Errorf("%+v:\n evaluator %+v\n server    %+v", in, got, want)
				}
				n++
			}
		}
	}
	t.Logf("%d inputs agree", n)
}

// BenchmarkEvaluator is the backend's cost of one decision, uncached and cached.
func BenchmarkEvaluator(b *testing.B) {
	ctx := context.Background()
	ev, err := NewEvaluator(ctx)
	if err != nil {
		b.Fatal(err)
	}
	in := Input{Method: "GET", Permission: "agent.view", User: User{Roles: []string{"customer_user"}, CustomerID: "c"}}
	b.Run("uncached", func(b *testing.B) {
		for b.Loop() {
			if _, err := ev.Decide(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		c := NewCache(ev, time.Hour, nil)
		now := time.Now()
		for b.Loop() {
			if _, _, err := c.Decide(ctx, in, now); err != nil {
				b.Fatal(err)
			}
		}
	})
}
