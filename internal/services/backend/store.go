package backend

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waooaw/waooaw/internal/httpx"
)

// store is the backend's data access: one method per use case, each a few statements, the
// multi-step ones in one transaction. Domain outcomes (not found, conflict, bad reference) come
// back as *httpx.Problem; anything else is an internal error the handler logs and hides.
type store struct {
	pool *pgxpool.Pool
}

// tenant says whose rows a caller may see: all of them (platform roles) or one customer's.
type tenant struct {
	all        bool
	customerID string // for customer roles; "" when the token carries none, which matches nothing
}

// filter returns the customer id a query must be restricted to, or nil for no restriction.
func (t tenant) filter() any {
	if t.all {
		return nil
	}
	if t.customerID == "" {
		return "00000000-0000-0000-0000-000000000000"
	}
	return t.customerID
}

type page struct{ limit, offset int }

type list[T any] struct {
	Items  []T `json:"items"`
	Total  int `json:"total"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

// Industry is a market the platform's agents work in.
type Industry struct {
	ID   int    `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name"`
}

// Agent is an AI agent customers can try and subscribe to.
type Agent struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Industry     string    `json:"industry"`
	Specialty    string    `json:"specialty"`
	Status       string    `json:"status"`
	Rating       float64   `json:"rating"`
	PriceMonthly int       `json:"price_monthly"`
	Currency     string    `json:"currency"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Customer is a tenant of the platform.
type Customer struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Company   *string   `json:"company"`
	Phone     *string   `json:"phone"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Trial is a customer's seven-day trial of an agent. Status is as of now: an active trial past its
// end reads as expired.
type Trial struct {
	ID            string    `json:"id"`
	AgentID       string    `json:"agent_id"`
	CustomerID    string    `json:"customer_id"`
	Status        string    `json:"status"`
	StartAt       time.Time `json:"start_at"`
	EndAt         time.Time `json:"end_at"`
	DaysRemaining int       `json:"days_remaining"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Subscription is a customer's paid subscription to an agent.
type Subscription struct {
	ID           string     `json:"id"`
	CustomerID   string     `json:"customer_id"`
	AgentID      string     `json:"agent_id"`
	TrialID      *string    `json:"trial_id"`
	Status       string     `json:"status"`
	PriceMonthly int        `json:"price_monthly"`
	Currency     string     `json:"currency"`
	StartedAt    time.Time  `json:"started_at"`
	CancelledAt  *time.Time `json:"cancelled_at"`
}

const agentColumns = `a.id::text, a.name, i.slug, a.specialty, a.status, a.rating::float8,
	a.price_monthly, a.currency, a.created_at, a.updated_at`

func scanAgent(row pgx.Row) (Agent, error) {
	var a Agent
	err := row.Scan(&a.ID, &a.Name, &a.Industry, &a.Specialty, &a.Status, &a.Rating,
		&a.PriceMonthly, &a.Currency, &a.CreatedAt, &a.UpdatedAt)
	return a, err
}

const customerColumns = `c.id::text, c.name, c.email, c.company, c.phone, c.created_at, c.updated_at`

func scanCustomer(row pgx.Row) (Customer, error) {
	var c Customer
	err := row.Scan(&c.ID, &c.Name, &c.Email, &c.Company, &c.Phone, &c.CreatedAt, &c.UpdatedAt)
	return c, err
}

// trialColumns computes the effective status and days remaining with the database's clock, so a
// list filtered by status and the statuses it shows always agree.
const trialColumns = `t.id::text, t.agent_id::text, t.customer_id::text,
	CASE WHEN t.status = 'active' AND t.end_at <= now() THEN 'expired' ELSE t.status END,
	t.start_at, t.end_at,
	CASE WHEN t.status = 'active' AND t.end_at > now()
	     THEN ceil(extract(epoch FROM t.end_at - now()) / 86400)::int ELSE 0 END,
	t.created_at, t.updated_at`

const trialStatusExpr = `(CASE WHEN t.status = 'active' AND t.end_at <= now() THEN 'expired' ELSE t.status END)`

func scanTrial(row pgx.Row) (Trial, error) {
	var t Trial
	err := row.Scan(&t.ID, &t.AgentID, &t.CustomerID, &t.Status, &t.StartAt, &t.EndAt,
		&t.DaysRemaining, &t.CreatedAt, &t.UpdatedAt)
	return t, err
}

const subscriptionColumns = `s.id::text, s.customer_id::text, s.agent_id::text, s.trial_id::text,
	s.status, s.price_monthly, s.currency, s.started_at, s.cancelled_at`

func scanSubscription(row pgx.Row) (Subscription, error) {
	var s Subscription
	err := row.Scan(&s.ID, &s.CustomerID, &s.AgentID, &s.TrialID, &s.Status, &s.PriceMonthly,
		&s.Currency, &s.StartedAt, &s.CancelledAt)
	return s, err
}

// queryPage runs a page query and its count in one round trip.
func queryPage[T any](ctx context.Context, pool *pgxpool.Pool, p page, columns string,
	scan func(pgx.Row) (T, error), from, orderBy string, args ...any) (list[T], error) {
	out := list[T]{Items: []T{}, Limit: p.limit, Offset: p.offset}
	n := len(args)
	b := &pgx.Batch{}
	b.Queue(`SELECT count(*) FROM `+from, args...)
	b.Queue(fmt.Sprintf(`SELECT %s FROM %s ORDER BY %s LIMIT $%d OFFSET $%d`,
		columns, from, orderBy, n+1, n+2), append(args, p.limit, p.offset)...)
	br := pool.SendBatch(ctx, b)
	defer br.Close()
	if err := br.QueryRow().Scan(&out.Total); err != nil {
		return out, fmt.Errorf("count: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		return out, fmt.Errorf("list: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		item, err := scan(rows)
		if err != nil {
			return out, fmt.Errorf("scan: %w", err)
		}
		out.Items = append(out.Items, item)
	}
	return out, rows.Err()
}

func (s *store) listIndustries(ctx context.Context) ([]Industry, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, slug, name FROM industries ORDER BY slug`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Industry, error) {
		var i Industry
		err := r.Scan(&i.ID, &i.Slug, &i.Name)
		return i, err
	})
}

type agentFilter struct {
	industry, status, q string
}

func (s *store) listAgents(ctx context.Context, f agentFilter, p page) (list[Agent], error) {
	from := `agents a JOIN industries i ON i.id = a.industry_id
		WHERE ($1 = '' OR i.slug = $1)
		  AND (CASE WHEN $2 = '' THEN a.status <> 'retired' ELSE a.status = $2 END)
		  AND ($3 = '' OR a.name ILIKE $3 OR a.specialty ILIKE $3)`
	return queryPage(ctx, s.pool, p, agentColumns, scanAgent, from, `a.name, a.id`, f.industry, f.status, likePattern(f.q))
}

// likePattern makes a case-insensitive substring pattern that treats the user's %, _ and \ literally.
func likePattern(q string) string {
	if q == "" {
		return ""
	}
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(q) + "%"
}

func (s *store) industryExists(ctx context.Context, slug string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM industries WHERE slug = $1)`, slug).Scan(&ok)
	return ok, err
}

func (s *store) getAgent(ctx context.Context, id string) (Agent, error) {
	a, err := scanAgent(s.pool.QueryRow(ctx, `SELECT `+agentColumns+`
		FROM agents a JOIN industries i ON i.id = a.industry_id WHERE a.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return a, httpx.NotFound("No agent with this id.")
	}
	return a, err
}

type newAgent struct {
	Name         string  `json:"name"`
	Industry     string  `json:"industry"`
	Specialty    string  `json:"specialty"`
	PriceMonthly *int    `json:"price_monthly"`
	Currency     *string `json:"currency"`
}

func (s *store) createAgent(ctx context.Context, in newAgent) (Agent, error) {
	price, currency := 0, "INR"
	if in.PriceMonthly != nil {
		price = *in.PriceMonthly
	}
	if in.Currency != nil {
		currency = *in.Currency
	}
	a, err := scanAgent(s.pool.QueryRow(ctx, `
		WITH ins AS (
			INSERT INTO agents (name, industry_id, specialty, price_monthly, currency)
			SELECT $1, i.id, $3, $4, $5 FROM industries i WHERE i.slug = $2
			RETURNING *)
		SELECT `+agentColumns+` FROM ins a JOIN industries i ON i.id = a.industry_id`,
		in.Name, in.Industry, in.Specialty, price, currency))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return a, httpx.Invalid(httpx.Violation{Field: "industry", Message: "unknown industry " + quote(in.Industry)})
	case isUniqueViolation(err):
		return a, httpx.Conflict("An agent named " + quote(in.Name) + " already exists (names are compared ignoring case).")
	}
	return a, err
}

func (s *store) retireAgent(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE agents SET status = 'retired',
		updated_at = CASE WHEN status = 'retired' THEN updated_at ELSE now() END WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return httpx.NotFound("No agent with this id.")
	}
	return nil
}

func (s *store) listCustomers(ctx context.Context, t tenant, p page) (list[Customer], error) {
	return queryPage(ctx, s.pool, p, customerColumns, scanCustomer, `customers c WHERE ($1::uuid IS NULL OR c.id = $1::uuid)`,
		`c.created_at, c.id`, t.filter())
}

func (s *store) getCustomer(ctx context.Context, t tenant, id string) (Customer, error) {
	c, err := scanCustomer(s.pool.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers c
		WHERE c.id = $1 AND ($2::uuid IS NULL OR c.id = $2::uuid)`, id, t.filter()))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, httpx.NotFound("No customer with this id.")
	}
	return c, err
}

type newCustomer struct {
	Name    string  `json:"name"`
	Email   string  `json:"email"`
	Company *string `json:"company"`
	Phone   *string `json:"phone"`
}

func (s *store) createCustomer(ctx context.Context, in newCustomer) (Customer, error) {
	c, err := scanCustomer(s.pool.QueryRow(ctx, `INSERT INTO customers AS c (name, email, company, phone)
		VALUES ($1, $2, $3, $4) RETURNING `+customerColumns, in.Name, in.Email, in.Company, in.Phone))
	if isUniqueViolation(err) {
		return c, httpx.Conflict("A customer with this email already exists.")
	}
	return c, err
}

type trialFilter struct {
	customerID, status string
}

func (s *store) listTrials(ctx context.Context, t tenant, f trialFilter, p page) (list[Trial], error) {
	var customer any
	if f.customerID != "" {
		customer = f.customerID
	}
	from := `trials t WHERE ($1::uuid IS NULL OR t.customer_id = $1::uuid)
		AND ($2::uuid IS NULL OR t.customer_id = $2::uuid)
		AND ($3 = '' OR ` + trialStatusExpr + ` = $3)`
	return queryPage(ctx, s.pool, p, trialColumns, scanTrial, from, `t.created_at DESC, t.id`, t.filter(), customer, f.status)
}

func (s *store) getTrial(ctx context.Context, t tenant, id string) (Trial, error) {
	tr, err := scanTrial(s.pool.QueryRow(ctx, `SELECT `+trialColumns+` FROM trials t
		WHERE t.id = $1 AND ($2::uuid IS NULL OR t.customer_id = $2::uuid)`, id, t.filter()))
	if errors.Is(err, pgx.ErrNoRows) {
		return tr, httpx.NotFound("No trial with this id.")
	}
	return tr, err
}

// createTrial starts a seven-day trial. An earlier active trial of the same pair that has run out
// is marked expired first, so it does not block a new one; two racing creates meet on the
// one-active-trial index and exactly one wins.
func (s *store) createTrial(ctx context.Context, customerID, agentID string) (Trial, error) {
	var tr Trial
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := checkAgentUsable(ctx, tx, agentID); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM customers WHERE id = $1)`, customerID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return httpx.Invalid(httpx.Violation{Field: "customer_id", Message: "no customer with this id"})
		}
		if _, err := tx.Exec(ctx, `UPDATE trials SET status = 'expired', updated_at = now()
			WHERE customer_id = $1 AND agent_id = $2 AND status = 'active' AND end_at <= now()`,
			customerID, agentID); err != nil {
			return err
		}
		var err error
		tr, err = scanTrial(tx.QueryRow(ctx, `
			WITH t AS (
				INSERT INTO trials (customer_id, agent_id, start_at, end_at)
				VALUES ($1, $2, now(), now() + interval '7 days')
				ON CONFLICT (customer_id, agent_id) WHERE status = 'active' DO NOTHING
				RETURNING *)
			SELECT `+trialColumns+` FROM t`, customerID, agentID))
		if errors.Is(err, pgx.ErrNoRows) {
			return httpx.Conflict("This customer already has an active trial of this agent.")
		}
		return err
	})
	return tr, err
}

func checkAgentUsable(ctx context.Context, tx pgx.Tx, agentID string) error {
	var status string
	err := tx.QueryRow(ctx, `SELECT status FROM agents WHERE id = $1`, agentID).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return httpx.Invalid(httpx.Violation{Field: "agent_id", Message: "no agent with this id"})
	}
	if err != nil {
		return err
	}
	if status == "retired" {
		return httpx.Invalid(httpx.Violation{Field: "agent_id", Message: "the agent is retired"})
	}
	return nil
}

// updateTrialStatus moves an active trial to converted or cancelled; any other transition is a conflict.
func (s *store) updateTrialStatus(ctx context.Context, t tenant, id, status string) (Trial, error) {
	tr, err := scanTrial(s.pool.QueryRow(ctx, `
		WITH t AS (
			UPDATE trials SET status = $3, updated_at = now()
			WHERE id = $1 AND ($2::uuid IS NULL OR customer_id = $2::uuid)
			  AND status = 'active' AND end_at > now()
			RETURNING *)
		SELECT `+trialColumns+` FROM t`, id, t.filter(), status))
	if !errors.Is(err, pgx.ErrNoRows) {
		return tr, err
	}
	current, err := s.getTrial(ctx, t, id)
	if err != nil {
		return current, err
	}
	return current, httpx.Conflict(fmt.Sprintf("The trial is %s; only an active trial can become %s.", current.Status, status))
}

// createSubscription subscribes a customer to an agent and, in the same transaction, converts the
// customer's active trial of that agent if there is one.
func (s *store) createSubscription(ctx context.Context, t tenant, customerID, agentID string) (Subscription, error) {
	var sub Subscription
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM customers
			WHERE id = $1 AND ($2::uuid IS NULL OR id = $2::uuid))`, customerID, t.filter()).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return httpx.NotFound("No customer with this id.")
		}
		if err := checkAgentUsable(ctx, tx, agentID); err != nil {
			return err
		}
		var trialID *string
		err := tx.QueryRow(ctx, `UPDATE trials SET status = 'converted', updated_at = now()
			WHERE customer_id = $1 AND agent_id = $2 AND status = 'active' AND end_at > now()
			RETURNING id::text`, customerID, agentID).Scan(&trialID)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		sub, err = scanSubscription(tx.QueryRow(ctx, `
			WITH s AS (
				INSERT INTO subscriptions (customer_id, agent_id, trial_id, price_monthly, currency)
				SELECT $1, a.id, $3, a.price_monthly, a.currency FROM agents a WHERE a.id = $2
				ON CONFLICT (customer_id, agent_id) WHERE status = 'active' DO NOTHING
				RETURNING *)
			SELECT `+subscriptionColumns+` FROM s`, customerID, agentID, trialID))
		if errors.Is(err, pgx.ErrNoRows) {
			return httpx.Conflict("This customer already has an active subscription to this agent.")
		}
		return err
	})
	return sub, err
}

func (s *store) listSubscriptions(ctx context.Context, t tenant, customerID string) ([]Subscription, error) {
	if _, err := s.getCustomer(ctx, t, customerID); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions s
		WHERE s.customer_id = $1 ORDER BY s.started_at DESC, s.id`, customerID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Subscription, error) { return scanSubscription(r) })
}

// cancelSubscription is idempotent: cancelling a cancelled subscription changes nothing.
func (s *store) cancelSubscription(ctx context.Context, t tenant, customerID, subscriptionID string) error {
	var found bool
	err := s.pool.QueryRow(ctx, `
		WITH target AS (
			SELECT s.id FROM subscriptions s JOIN customers c ON c.id = s.customer_id
			WHERE s.id = $1 AND s.customer_id = $2 AND ($3::uuid IS NULL OR c.id = $3::uuid)),
		upd AS (
			UPDATE subscriptions SET status = 'cancelled', cancelled_at = now()
			WHERE id IN (SELECT id FROM target) AND status = 'active')
		SELECT EXISTS (SELECT 1 FROM target)`, subscriptionID, customerID, t.filter()).Scan(&found)
	if err != nil {
		return err
	}
	if !found {
		return httpx.NotFound("No subscription with this id for this customer.")
	}
	return nil
}

// schemaVersion reads the applied migration version; it doubles as the health check's ping.
func (s *store) schemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, `SELECT version FROM schema_migrations LIMIT 1`).Scan(&v)
	return v, err
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

func quote(s string) string { return fmt.Sprintf("%q", s) }
