package backend

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/waooaw/waooaw/internal/httpx"
)

// unavailableProblem is the answer when the database cannot be reached: a 503 the client may
// retry, not a 500 that says the backend is broken.
func unavailableProblem() *httpx.Problem {
	return httpx.NewProblem(httpx.SlugServiceUnavailable,
		"The database is unavailable. Try again shortly.").WithHeader("Retry-After", "1")
}

func databaseUnreachable(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return true
	case errors.As(err, &pgErr):
		// Class 08: connection exception; 57P01–57P03: the server is shutting down or starting.
		return pgErr.Code[:2] == "08" || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	return false
}
