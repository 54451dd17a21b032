package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// newHealthcheckCmd is the services image's HEALTHCHECK: the image has no shell and no curl.
func newHealthcheckCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "healthcheck [URL]",
		Short: "Exit 0 if URL (default: this container's /health, from ADDR) answers 200, else 1",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			url := ""
			if len(args) == 1 {
				url = args[0]
			} else {
				addr := e.getenv("ADDR")
				_, port, err := net.SplitHostPort(addr)
				if err != nil || port == "" {
					return usageErr(fmt.Errorf("no URL given and ADDR %q names no port", addr))
				}
				url = "http://127.0.0.1:" + port + "/health"
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return usageErr(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return &exitError{exitFailed, fmt.Errorf("unhealthy: %w", err)}
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return &exitError{exitFailed, errors.New("unhealthy: " + resp.Status)}
			}
			return nil
		},
	}
}
