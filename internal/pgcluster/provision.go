package pgcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Role is a database role and its password.
type Role struct {
	Name, Password string
}

// Connector opens a connection to database as user, with password where the transport asks
// for one (TCP); a connector on the cluster's private Unix socket ignores it.
type Connector func(ctx context.Context, user, password, database string) (*pgx.Conn, error)

// Roles is what Provision brings a cluster to.
type Roles struct {
	// Superuser is the cluster's bootstrap superuser (the role initdb made); it gets
	// Superuser.Password. Only Provision uses it.
	Superuser Role
	// Legacy are bootstrap superusers, with their passwords, that an earlier version made
	// instead of Superuser. When Superuser cannot log in but one of them can, that role is
	// renamed to Superuser and given its password (the bootstrap superuser cannot stop being
	// one, and App may want its name).
	Legacy []Role
	// Database is created when missing, and owned by App with its public schema and every
	// object in it.
	Database string
	// App is the application role: it may log in with its password and is no superuser, may
	// not create databases or roles, replicate or bypass row security.
	App Role
}

// upgradeRole is the temporary superuser that renames a legacy bootstrap superuser (a role
// cannot rename itself). Provision drops it, also after an upgrade that was interrupted.
const upgradeRole = "waooaw_upgrade"

// PostgreSQL's SQLSTATEs for a refused login.
const (
	invalidAuthorization = "28000" // e.g. role does not exist
	invalidPassword      = "28P01"
)

// IsAuthFailure reports whether err is the server refusing a login (unknown role, wrong
// password), as opposed to not answering.
func IsAuthFailure(err error) bool {
	pgErr, ok := errors.AsType[*pgconn.PgError](err)
	return ok && (pgErr.Code == invalidAuthorization || pgErr.Code == invalidPassword)
}

// Provision brings the cluster's roles and database to r, idempotently: the superuser's
// password; App created or altered (attributes and password); Database created or handed to
// App, with its public schema and every table, view, sequence, function, type and schema the
// superuser owns in it (data made before App existed). A cluster whose bootstrap superuser is
// one of r.Legacy is first converted (see Roles.Legacy).
func Provision(ctx context.Context, connect Connector, r Roles) error {
	if r.App.Name == "" || r.App.Password == "" || r.Database == "" || r.Superuser.Name == "" {
		return errors.New("provision: the application role, its password, the database and the superuser must be given")
	}
	if r.App.Name == r.Superuser.Name {
		return fmt.Errorf("provision: the application role %q cannot be the superuser", r.App.Name)
	}
	conn, err := connect(ctx, r.Superuser.Name, r.Superuser.Password, "postgres")
	if IsAuthFailure(err) {
		conn, err = adoptLegacy(ctx, connect, r, err)
	}
	if err != nil {
		return fmt.Errorf("connect to postgres as the superuser %q: %w", r.Superuser.Name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := quiet(ctx, conn); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "drop role if exists "+ident(upgradeRole)); err != nil {
		return fmt.Errorf("drop the upgrade role: %w", err)
	}
	if _, err := conn.Exec(ctx, "alter role "+ident(r.Superuser.Name)+" password "+literal(r.Superuser.Password)); err != nil {
		return fmt.Errorf("set the superuser's password: %w", err)
	}

	var exists, bootstrap bool
	err = conn.QueryRow(ctx, "select true, oid = 10 from pg_roles where rolname = $1", r.App.Name).Scan(&exists, &bootstrap)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("look up role %q: %w", r.App.Name, err)
	}
	if bootstrap {
		return fmt.Errorf("role %q is the cluster's bootstrap superuser and cannot be made the unprivileged application role", r.App.Name)
	}
	verb := "create"
	if exists {
		verb = "alter"
	}
	_, err = conn.Exec(ctx, verb+" role "+ident(r.App.Name)+
		" with login nosuperuser nocreatedb nocreaterole noreplication nobypassrls inherit password "+literal(r.App.Password))
	if err != nil {
		return fmt.Errorf("%s role %q: %w", verb, r.App.Name, err)
	}

	var owner string
	err = conn.QueryRow(ctx, "select pg_get_userbyid(datdba) from pg_database where datname = $1", r.Database).Scan(&owner)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		_, err = conn.Exec(ctx, "create database "+ident(r.Database)+" owner "+ident(r.App.Name))
		if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == duplicateDatabase {
			_, err = conn.Exec(ctx, "alter database "+ident(r.Database)+" owner to "+ident(r.App.Name))
		}
	case err == nil && owner != r.App.Name:
		_, err = conn.Exec(ctx, "alter database "+ident(r.Database)+" owner to "+ident(r.App.Name))
	}
	if err != nil {
		return fmt.Errorf("give database %q to %q: %w", r.Database, r.App.Name, err)
	}

	db, err := connect(ctx, r.Superuser.Name, r.Superuser.Password, r.Database)
	if err != nil {
		return fmt.Errorf("connect to %q as the superuser: %w", r.Database, err)
	}
	defer db.Close(context.WithoutCancel(ctx))
	if err := quiet(ctx, db); err != nil {
		return err
	}
	if _, err := db.Exec(ctx, handOver(r.App.Name)); err != nil {
		return fmt.Errorf("hand the objects of %q to %q: %w", r.Database, r.App.Name, err)
	}
	return nil
}

// adoptLegacy converts a cluster whose bootstrap superuser is one of r.Legacy: a temporary
// superuser renames it to r.Superuser and sets its password. It returns a connection as
// r.Superuser, or firstErr when no legacy role can log in either.
func adoptLegacy(ctx context.Context, connect Connector, r Roles, firstErr error) (*pgx.Conn, error) {
	for _, legacy := range r.Legacy {
		conn, err := connect(ctx, legacy.Name, legacy.Password, "postgres")
		if IsAuthFailure(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		err = renameBootstrap(ctx, conn, connect, legacy, r.Superuser)
		conn.Close(context.WithoutCancel(ctx))
		if err != nil {
			return nil, fmt.Errorf("convert the superuser %q of an earlier version to %q: %w", legacy.Name, r.Superuser.Name, err)
		}
		return connect(ctx, r.Superuser.Name, r.Superuser.Password, "postgres")
	}
	return nil, firstErr
}

func renameBootstrap(ctx context.Context, conn *pgx.Conn, connect Connector, legacy, super Role) error {
	if err := quiet(ctx, conn); err != nil {
		return err
	}
	if legacy.Name == super.Name {
		// Renamed by an interrupted earlier run, but not given its password yet.
		_, err := conn.Exec(ctx, "alter role "+ident(super.Name)+" password "+literal(super.Password))
		return err
	}
	var bootstrap string
	if err := conn.QueryRow(ctx, "select rolname from pg_roles where oid = 10").Scan(&bootstrap); err != nil {
		return err
	}
	if bootstrap != legacy.Name {
		return fmt.Errorf("the bootstrap superuser is %q, not %q", bootstrap, legacy.Name)
	}
	var taken bool
	if err := conn.QueryRow(ctx, "select exists (select 1 from pg_roles where rolname = $1)", super.Name).Scan(&taken); err != nil {
		return err
	}
	if taken {
		return fmt.Errorf("a role %q exists already beside the bootstrap superuser %q", super.Name, legacy.Name)
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	tmpPassword := hex.EncodeToString(raw)
	if _, err := conn.Exec(ctx, "drop role if exists "+ident(upgradeRole)); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "create role "+ident(upgradeRole)+" with login superuser password "+literal(tmpPassword)); err != nil {
		return err
	}
	tmp, err := connect(ctx, upgradeRole, tmpPassword, "postgres")
	if err != nil {
		return fmt.Errorf("connect as the temporary role %s: %w", upgradeRole, err)
	}
	defer tmp.Close(context.WithoutCancel(ctx))
	if err := quiet(ctx, tmp); err != nil {
		return err
	}
	// Renaming keeps a SCRAM password, which does not depend on the name; the new one follows.
	if _, err := tmp.Exec(ctx, "alter role "+ident(legacy.Name)+" rename to "+ident(super.Name)); err != nil {
		return err
	}
	_, err = tmp.Exec(ctx, "alter role "+ident(super.Name)+" password "+literal(super.Password))
	return err
}

// quiet keeps this session's statements, which carry passwords, out of the server log, even
// when one fails.
func quiet(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, "set log_statement = 'none'; set log_min_error_statement = 'panic'; set log_min_duration_statement = -1")
	if err != nil {
		return fmt.Errorf("configure the provisioning session: %w", err)
	}
	return nil
}

// handOver is a DO block that gives app the public schema and every object the current user
// (the superuser) owns in the current database outside the system schemas. Sequences of
// identity and serial columns follow their tables; arrays and multiranges follow their types.
func handOver(app string) string {
	return `do $handover$
declare
	app text := ` + literal(app) + `;
	me oid := (select oid from pg_roles where rolname = current_user);
	r record;
begin
	execute format('alter schema public owner to %I', app);
	for r in select n.nspname from pg_namespace n
		where n.nspowner = me and n.nspname not in ('public', 'information_schema') and n.nspname not like 'pg\_%'
	loop
		execute format('alter schema %I owner to %I', r.nspname, app);
	end loop;
	for r in select c.oid::regclass as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
		where c.relowner = me and c.relkind in ('r', 'p', 'v', 'm', 'f')
			and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\_%'
			and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
	loop
		execute format('alter table %s owner to %I', r.name, app);
	end loop;
	for r in select c.oid::regclass as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
		where c.relowner = me and c.relkind = 'S'
			and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\_%'
	loop
		execute format('alter sequence %s owner to %I', r.name, app);
	end loop;
	for r in select p.oid::regprocedure as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace
		where p.proowner = me and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\_%'
			and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
	loop
		execute format('alter routine %s owner to %I', r.name, app);
	end loop;
	for r in select t.oid::regtype as name, t.typtype from pg_type t join pg_namespace n on n.oid = t.typnamespace
		where t.typowner = me and t.typtype in ('e', 'd', 'r', 'b') and t.typcategory <> 'A'
			and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\_%'
			and not exists (select 1 from pg_depend d where d.classid = 'pg_type'::regclass and d.objid = t.oid and d.deptype = 'e')
	loop
		if r.typtype = 'd' then
			execute format('alter domain %s owner to %I', r.name, app);
		else
			execute format('alter type %s owner to %I', r.name, app);
		end if;
	end loop;
end
$handover$`
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// literal quotes s as an SQL string (standard_conforming_strings is on since PostgreSQL 9.1).
// Passwords cannot be bind parameters of utility statements.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
