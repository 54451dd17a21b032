package backend

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5" // registers the pgx5:// driver
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// SchemaVersion is the version of the newest embedded migration: what a fully migrated database reports.
func SchemaVersion() uint {
	names, _ := fs.Glob(migrationFiles, "migrations/*.up.sql")
	sort.Strings(names)
	if len(names) == 0 {
		return 0
	}
	base := strings.TrimPrefix(names[len(names)-1], "migrations/")
	n, _ := strconv.ParseUint(strings.SplitN(base, "_", 2)[0], 10, 32)
	return uint(n)
}

// Migrate applies every pending migration to the database at databaseURL and returns the version
// it is at afterwards. golang-migrate holds a PostgreSQL advisory lock while it works, so several
// replicas starting at once apply each migration exactly once.
func Migrate(databaseURL string) (uint, error) {
	src, err := iofs.New(migrationFiles, "migrations")
	if err != nil {
		return 0, fmt.Errorf("read embedded migrations: %w", err)
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, migrateURL(databaseURL))
	if err != nil {
		return 0, fmt.Errorf("connect to the database to migrate: %w", err)
	}
	defer m.Close()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return 0, fmt.Errorf("apply migrations: %w", err)
	}
	v, dirty, err := m.Version()
	if err != nil {
		return 0, fmt.Errorf("read the schema version: %w", err)
	}
	if dirty {
		return v, fmt.Errorf("schema version %d is marked dirty: a migration failed half-way; fix the database by hand, then run `waooaw migrate`", v)
	}
	return v, nil
}

// migrateURL turns a postgres:// URL into the pgx5:// form golang-migrate's pgx driver expects.
func migrateURL(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return databaseURL
	}
	u.Scheme = "pgx5"
	return u.String()
}
