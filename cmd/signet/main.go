// Command signet runs the Signet code-signing service (`signet serve`) and
// is its command-line client.
package main

import (
	"context"
	"os"

	"github.com/signet/signet/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
