package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
)

// tokenFlag registers --token-file: the API bearer token for client commands
// (the read token or the API token for reads, the API token for changes).
func tokenFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVar(dst, "token-file", envOr("VMFLEET_API_TOKEN_FILE", ""),
		"file holding the API bearer token [env VMFLEET_API_TOKEN_FILE, or the token in VMFLEET_API_TOKEN]")
}

// clientToken reads the bearer token: the file when given, else VMFLEET_API_TOKEN.
func clientToken(tokenFile string) (string, error) {
	if tokenFile == "" {
		return os.Getenv("VMFLEET_API_TOKEN"), nil
	}
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		return "", fmt.Errorf("%w: --token-file: %v", cliconfig.ErrConfig, err)
	}
	return strings.TrimSpace(string(b)), nil
}
