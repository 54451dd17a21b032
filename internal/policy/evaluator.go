package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/open-policy-agent/opa/v1/rego"
)

// decisionQuery is DecisionPath as a Rego query.
const decisionQuery = "data.waooaw.gateway.decision"

// Evaluator evaluates the embedded policies in process. It runs the very modules the OPA
// service loads, so its decision for an input is the decision OPA gives: the backend uses it to
// enforce the gateway's rules on its own port without a second copy of the role matrix.
type Evaluator struct {
	query rego.PreparedEvalQuery
}

// NewEvaluator compiles the embedded policies.
func NewEvaluator(ctx context.Context) (*Evaluator, error) {
	modules, err := Modules()
	if err != nil {
		return nil, err
	}
	opts := []func(*rego.Rego){rego.Query(decisionQuery)}
	for name, src := range modules {
		opts = append(opts, rego.Module(name, src))
	}
	query, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("compile embedded policies: %w", err)
	}
	return &Evaluator{query: query}, nil
}

// Decide evaluates the decision for in. Its answer is checked like one from OPA's REST API, so
// a policy that stops producing a member fails closed here too.
func (e *Evaluator) Decide(ctx context.Context, in Input) (Decision, error) {
	if in.User.Roles == nil {
		in.User.Roles = []string{}
	}
	rs, err := e.query.Eval(ctx, rego.EvalInput(in))
	if err != nil {
		return Decision{}, fmt.Errorf("evaluate policy: %w", err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return Decision{}, errors.New("evaluate policy: decision is undefined")
	}
	// The result is JSON-shaped (maps, slices, json.Number); one round trip through JSON reads
	// it with the same checks as an answer from the REST API.
	raw, err := json.Marshal(rs[0].Expressions[0].Value)
	if err != nil {
		return Decision{}, fmt.Errorf("evaluate policy: %w", err)
	}
	var w wireDecision
	if err := json.Unmarshal(raw, &w); err != nil {
		return Decision{}, fmt.Errorf("evaluate policy: read decision: %w", err)
	}
	return w.decision(in)
}
