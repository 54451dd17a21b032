package backend

import (
	"context"
	"strings"
	"testing"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waooaw/waooaw/internal/pgtest"
)

// TestUpgradeRenamesAgentsDifferingOnlyInCase: a database made before names were unique
// ignoring case may hold such names; the upgrade keeps the oldest of each group as it is,
// renames the others distinctly, and succeeds.
func TestUpgradeRenamesAgentsDifferingOnlyInCase(t *testing.T) {
	db := pgtest.NewDatabase(t)
	src, err := iofs.New(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, migrateURL(db))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Migrate(3); err != nil {
		t.Fatalf("migrate to the version before: %v", err)
	}
	m.Close()

	ctx := context.Background()
	pool, err := pgxpool.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	long := "X" + strings.Repeat("x", 99) // at the 100-character limit: the new name must still fit
	if _, err := pool.Exec(ctx, `INSERT INTO agents (name, industry_id, specialty, created_at) VALUES
		('aria - content strategy', 1, 's', now() + interval '1 minute'),
		('ARIA - CONTENT STRATEGY', 1, 's', now() + interval '2 minutes'),
		($1, 1, 's', now()), (upper($1), 1, 's', now() + interval '1 minute')`, long); err != nil {
		t.Fatalf("insert case duplicates: %v", err)
	}

	v, err := Migrate(db)
	if err != nil || v != SchemaVersion() {
		t.Fatalf("upgrade = %d, %v; want %d", v, err, SchemaVersion())
	}
	var seed string
	if err := pool.QueryRow(ctx, `SELECT name FROM agents WHERE id = '112ce31d-729a-51f6-b47b-08175182b313'`).Scan(&seed); err != nil {
		t.Fatal(err)
	}
	if seed != "Aria - Content Strategy" {
		t.Errorf("the oldest agent was renamed to %q", seed)
	}
	var renamed, groups, agents int
	if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE name ~ ' #[0-9a-f]{8}$'),
		count(DISTINCT lower(name)), count(*) FROM agents`).Scan(&renamed, &groups, &agents); err != nil {
		t.Fatal(err)
	}
	if renamed != 3 || groups != agents || agents != 54 {
		t.Errorf("renamed %d (want 3), %d distinct folded names of %d agents (want 54 each)", renamed, groups, agents)
	}
	// And the index now refuses a new case duplicate.
	if _, err := pool.Exec(ctx, `INSERT INTO agents (name, industry_id, specialty) VALUES ('BLAZE - math tutoring', 2, 's')`); !isUniqueViolation(err) {
		t.Errorf("case duplicate insert: %v, want a unique violation", err)
	}
}
