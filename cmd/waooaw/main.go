// Command waooaw runs the WAOOAW platform's local stack; see `waooaw --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/waooaw/waooaw/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.LookupEnv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
