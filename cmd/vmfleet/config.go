package main

// configDocs lists every command's Config (name → fresh default value), so
// the completeness test can check each field has a flag, an env name and a
// row in docs/configuration.md. The binding itself is internal/cliconfig.
var configDocs = map[string]func() any{}
