package docker

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/waooaw/waooaw/internal/pgcluster"
	"github.com/waooaw/waooaw/internal/stack"
)

// PostgresProbe returns the readiness probe of the postgres container on the Docker runtime:
// once the server answers, it provisions the roles from the host as the bootstrap superuser
// (pgcluster.Provision: the application role with its password, owning the database; a volume
// made by an earlier version converted), then waits for svc's own probe (the application
// role's connection). The official image only makes the superuser, and only on a fresh volume.
func (r *Runtime) PostgresProbe(svc stack.Service) stack.Probe {
	return &postgresProbe{hostPort: svc.HostPort, secrets: r.Secrets, ready: svc.Probe}
}

type postgresProbe struct {
	hostPort    int
	secrets     stack.Secrets
	ready       stack.Probe
	provisioned atomic.Bool
}

// Check implements stack.Probe.
func (p *postgresProbe) Check(ctx context.Context) error {
	if !p.provisioned.Load() {
		err := pgcluster.Provision(ctx, p.connect, pgcluster.Roles{
			Superuser: pgcluster.Role{Name: stack.DatabaseSuperuser, Password: p.secrets.PostgresSuperuserPassword},
			Legacy: []pgcluster.Role{
				{Name: stack.LegacyDatabaseSuperuser, Password: stack.LegacyDatabasePassword},
				// Renamed by an interrupted conversion, before it got its new password.
				{Name: stack.DatabaseSuperuser, Password: stack.LegacyDatabasePassword},
			},
			Database: stack.DatabaseName,
			App:      pgcluster.Role{Name: stack.DatabaseUser, Password: p.secrets.PostgresPassword},
		})
		if pgcluster.IsAuthFailure(err) {
			return fmt.Errorf("provision the database roles: %w (the volume's database was made with other credentials; 'waooaw down --volumes' deletes it, data included)", err)
		}
		if err != nil {
			return fmt.Errorf("provision the database roles: %w", err)
		}
		p.provisioned.Store(true)
	}
	return p.ready.Check(ctx)
}

// connect reaches the container's published port from the host.
func (p *postgresProbe) connect(ctx context.Context, user, password, database string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig("sslmode=disable connect_timeout=2")
	if err != nil {
		return nil, err
	}
	cfg.Host, cfg.Port = stack.Host, uint16(p.hostPort)
	cfg.User, cfg.Password, cfg.Database = user, password, database
	cfg.Fallbacks, cfg.TLSConfig = nil, nil
	return pgx.ConnectConfig(ctx, cfg)
}
