// Package cliconfig binds a command's Config struct to its flags, its
// environment and its YAML config file.
//
// Every leaf field of a Config carries tags:
//
//	yaml:"key"    the key in the YAML config file (nested structs nest keys); "-": not in the file
//	flag:"name"   the command-line flag; "-": no flag (secrets come from env or files only)
//	env:"A,B"     environment variables, the first one set wins
//	help:"..."    one line for --help and the docs table
//	example:"..." optional: a valid YAML value, shown when the file's value is of the wrong type
//	              (by default the field's default, or a plain value of its type)
//
// Precedence is flag > env > file > default, where the default is the
// struct's value when Bind is called. Unknown keys in the file are an error
// naming the key, the line and the file; a value of the wrong type (in the
// file, env or a flag) is one line naming the key, what it takes and a valid
// setting; every error wraps ErrConfig.
//
// A section shared by several commands is a struct type embedded with
// yaml:",inline" (its keys sit beside the embedder's; the type must be
// exported, or reflection cannot set its fields); a command whose Config
// implements Helper gives such keys its own help line.
//
// Defaults are written once, in the package a key configures (e.g.
// orchestrator.DefaultConfig): a command's Config keeps its own struct with
// the tags, grouped as the operator sees the keys, and fills its defaults
// from the packages' rather than repeating them, so --help and the docs
// table show the packages' values. Packages' Config types carry no tags.
//
// It owns the binding only: which keys exist, their defaults and what they
// mean belong to the command and the packages it configures. It must not
// know any command or read anything before Load.
package cliconfig
