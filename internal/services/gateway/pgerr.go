package gateway

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// pgconnUnreachable reports a failure to reach PostgreSQL at all, as opposed to a bad row.
func pgconnUnreachable(err error) bool {
	var connectErr *pgconn.ConnectError
	var pgErr *pgconn.PgError
	if errors.As(err, &connectErr) || pgconn.Timeout(err) {
		return true
	}
	return errors.As(err, &pgErr) && (pgErr.Code[:2] == "08" || pgErr.Code[:3] == "57P")
}
