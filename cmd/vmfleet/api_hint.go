package main

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// Hints appended to a 401 from the orchestrator's API: how to give the token
// (missing) or which token to check (refused).
const (
	hintNoToken = "no API token was given: pass --token-file FILE, set VMFLEET_API_TOKEN_FILE=FILE or VMFLEET_API_TOKEN, " +
		"or save it in a context (vmfleet context set NAME --token-file FILE), " +
		"with the token of the orchestrator's api_token_file (api_read_token_file is enough for reads)"
	hintBadToken = "the orchestrator refused the API token given (--token-file, VMFLEET_API_TOKEN_FILE, VMFLEET_API_TOKEN or the context's token file): " +
		"it must be the token of the orchestrator's api_token_file (or api_read_token_file, for reads)"
)

// tokenHint says how to give the API token when err is a 401.
func tokenHint(err error) error {
	e, ok := errors.AsType[*api.Error](err)
	if !ok || e.StatusCode != http.StatusUnauthorized {
		return err
	}
	if e.TokenSent {
		return fmt.Errorf("%w: %s", err, hintBadToken)
	}
	return fmt.Errorf("%w: %s", err, hintNoToken)
}

// emptySecretFile is the error of a secret file (key) that holds nothing.
func emptySecretFile(key, file string) error {
	fix := fmt.Sprintf("put the secret in it, or leave %s unset", key)
	switch key {
	case "api_token_file":
		fix = fmt.Sprintf("put a token in it (e.g. openssl rand -hex 32 > %s), or leave %s unset for an API that refuses every change", file, key)
	case "api_read_token_file":
		fix = fmt.Sprintf("put a token in it (e.g. openssl rand -hex 32 > %s), or leave %s unset for reads without a token", file, key)
	}
	return fmt.Errorf("%w: %s %s is empty: %s", cliconfig.ErrConfig, key, file, fix)
}
