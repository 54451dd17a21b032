package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/waooaw/waooaw/internal/buildinfo"
)

func newVersionCmd(e *env) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info := map[string]string{"version": buildinfo.Version, "commit": buildinfo.Commit, "go": buildinfo.GoVersion()}
			switch output {
			case "text":
				fmt.Fprintf(e.stdout, "waooaw %s (commit %s, %s)\n", info["version"], info["commit"], info["go"])
			case "json":
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			default:
				return usageErr(fmt.Errorf("-o must be text or json, got %q", output))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text|json")
	return cmd
}
