package backend_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waooaw/waooaw/internal/pgtest"
	"github.com/waooaw/waooaw/internal/services/backend"
)

// benchServer is the backend handler on a fresh, seeded database, called in-process so the
// figures are the handler and PostgreSQL, not the loopback network.
func benchServer(b *testing.B) (http.Handler, string) {
	b.Helper()
	db := pgtest.NewDatabase(b)
	if _, err := backend.Migrate(db); err != nil {
		b.Fatal(err)
	}
	pool, err := pgxpool.New(context.Background(), db)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	h, err := backend.NewServer(testConfig(b), discardLogger(), pool)
	if err != nil {
		b.Fatal(err)
	}
	return h, admin(b)
}

func benchRequest(b *testing.B, h http.Handler, tok, path string) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
			}
		}
	})
}

func BenchmarkListAgents(b *testing.B) {
	h, tok := benchServer(b)
	benchRequest(b, h, tok, "/api/v1/agents?limit=20")
}

func BenchmarkListAgentsFiltered(b *testing.B) {
	h, tok := benchServer(b)
	benchRequest(b, h, tok, "/api/v1/agents?industry=sales&q=re&limit=50")
}

func BenchmarkGetAgent(b *testing.B) {
	h, tok := benchServer(b)
	benchRequest(b, h, tok, "/api/v1/agents/112ce31d-729a-51f6-b47b-08175182b313")
}
