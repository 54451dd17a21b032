package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/waooaw/waooaw/internal/services/backend"
)

func newMigrateCmd(e *env) *cobra.Command {
	var databaseURL string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the embedded database migrations and seed (safe to run at any time)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if databaseURL == "" {
				databaseURL = e.getenv("DATABASE_URL")
			}
			if err := backend.ValidateDatabaseURL(databaseURL); err != nil {
				return configErr(fmt.Errorf("%w (or pass --database-url)", err))
			}
			v, err := backend.Migrate(databaseURL)
			if err != nil {
				return environmentErr(err)
			}
			fmt.Fprintf(e.stdout, "database at schema version %d (newest embedded: %d)\n", v, backend.SchemaVersion())
			return nil
		},
	}
	cmd.Flags().StringVar(&databaseURL, "database-url", "", "PostgreSQL URL (default $DATABASE_URL)")
	return cmd
}
