// Command notation-signet is the notation CLI's plugin for Signet: install
// it with notation plugin install --file notation-signet, then sign with
// notation sign --plugin signet --id PROFILE_ARN_OR_NAME REFERENCE. See
// docs/images.md.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/notaryproject/notation-plugin-framework-go/cli"

	"github.com/signet/signet/internal/notationplugin"
)

func main() {
	c, err := cli.New(&notationplugin.Plugin{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	c.Execute(context.Background(), os.Args)
}
