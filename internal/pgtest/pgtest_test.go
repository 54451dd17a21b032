package pgtest_test

import (
	"context"
	"net"
	"net/url"
	"os"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/waooaw/waooaw/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

func TestNewDatabaseGivesSeparateWorkingDatabases(t *testing.T) {
	first, second := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	if databaseOf(t, first) == databaseOf(t, second) {
		t.Fatalf("both URLs name database %q", databaseOf(t, first))
	}

	ctx := context.Background()
	a, b := connect(t, first), connect(t, second)
	if _, err := a.Exec(ctx, "create table only_in_first (id int)"); err != nil {
		t.Fatal(err)
	}
	var tables int
	if err := b.QueryRow(ctx, "select count(*) from pg_tables where schemaname = 'public'").Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("second database has %d tables, want a fresh, empty one", tables)
	}
	for _, conn := range []*pgx.Conn{a, b} {
		var current string
		if err := conn.QueryRow(ctx, "select current_database()").Scan(&current); err != nil {
			t.Fatal(err)
		}
		if want := databaseOf(t, conn.Config().ConnString()); current != want {
			t.Errorf("connected to %q, want %q", current, want)
		}
	}
}

func TestNewDatabaseDropsItAtCleanup(t *testing.T) {
	var dbURL string
	var leftOpen *pgx.Conn
	t.Run("user", func(t *testing.T) {
		dbURL = pgtest.NewDatabase(t)
		// Left open until after the drop on purpose: cleanup must drop the database anyway.
		conn, err := pgx.Connect(context.Background(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		leftOpen = conn
	})
	if leftOpen != nil {
		defer leftOpen.Close(context.Background())
	}
	if dbURL == "" {
		t.Skip("no database (see the subtest)")
	}

	admin := connect(t, withDatabase(t, dbURL, "postgres"))
	var exists bool
	err := admin.QueryRow(context.Background(),
		"select exists (select 1 from pg_database where datname = $1)", databaseOf(t, dbURL)).Scan(&exists)
	if err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after its test ended", databaseOf(t, dbURL))
	}
}

func TestNewClusterCanRestart(t *testing.T) {
	c := pgtest.NewCluster(t)
	ctx := context.Background()
	conn := connect(t, c.URL(pgtest.ClusterDatabase))
	if _, err := conn.Exec(ctx, "create table survives (id int); insert into survives values (7)"); err != nil {
		t.Fatal(err)
	}

	if err := c.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := conn.Ping(ctx); err == nil {
		t.Error("a connection to the stopped cluster still answers")
	}
	if err := c.Start(ctx); err != nil {
		t.Fatalf("Start again: %v", err)
	}
	var id int
	if err := connect(t, c.URL(pgtest.ClusterDatabase)).QueryRow(ctx, "select id from survives").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if id != 7 {
		t.Errorf("read %d after restart, want 7", id)
	}
}

func TestFreePort(t *testing.T) {
	port := pgtest.FreePort(t)
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("listen on the free port %d: %v", port, err)
	}
	l.Close()
}

func connect(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return conn
}

func databaseOf(t *testing.T, dbURL string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Database
}

func withDatabase(t *testing.T, dbURL, database string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + database
	return u.String()
}
