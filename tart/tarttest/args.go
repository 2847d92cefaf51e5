package tarttest

import (
	"errors"
	"fmt"
	"strings"
)

// command is a parsed tart command line.
type command struct {
	name   string
	pos    []string
	format string
	source string
	quiet  bool
}

// usage lines of swift-argument-parser's errors, per subcommand.
var usage = map[string]string{
	"":       "tart <subcommand>",
	"list":   "tart list [--source <source>] [--format <format>] [--quiet]",
	"get":    "tart get <name> [--format <format>]",
	"delete": "tart delete <name> ...",
	"rename": "tart rename <name> <new-name>",
	"clone":  "tart clone <source-name> <new-name> [--insecure] [--concurrency <concurrency>]",
	"pull":   "tart pull <remote-name> [--insecure] [--concurrency <concurrency>]",
}

// positional arguments each subcommand takes (min, max; -1: unbounded).
var arity = map[string][2]int{
	"list": {0, 0}, "get": {1, 1}, "delete": {1, -1}, "rename": {2, 2}, "clone": {2, 2}, "pull": {1, 1},
}

// parseArgs parses the subset of tart's options vmfleet uses, the way
// swift-argument-parser does: options anywhere, `--opt value` or `--opt=value`.
func parseArgs(name string, args []string) (command, error) {
	want, ok := arity[name]
	if !ok {
		return command{}, usageErr(fmt.Sprintf("Unexpected argument '%s'", name))
	}
	cmd := command{name: name, format: "text"}
	for i := 0; i < len(args); i++ {
		a := args[i]
		key, val, hasVal := strings.Cut(a, "=")
		takesValue := key == "--format" || key == "--source" || key == "--concurrency"
		if takesValue && !hasVal {
			if i+1 >= len(args) {
				return command{}, usageErr(fmt.Sprintf("Missing value for '%s <%s>'", key, strings.TrimPrefix(key, "--")))
			}
			i++
			val = args[i]
		}
		switch {
		case key == "--format":
			if val != "text" && val != "json" {
				return command{}, usageErr(fmt.Sprintf("The value '%s' is invalid for '--format <format>'", val))
			}
			cmd.format = val
		case key == "--source":
			if val != "local" && val != "oci" {
				return command{}, usageErr(fmt.Sprintf("'%s' is not a valid <source>", val))
			}
			cmd.source = val
		case key == "--concurrency", a == "--insecure":
		case a == "-q" || a == "--quiet":
			cmd.quiet = true
		case strings.HasPrefix(a, "-"):
			return command{}, usageErr(fmt.Sprintf("Unknown option '%s'", a))
		default:
			cmd.pos = append(cmd.pos, a)
		}
	}
	if len(cmd.pos) < want[0] {
		return command{}, usageErr(fmt.Sprintf("Missing expected argument '<%s>'", name))
	}
	if want[1] >= 0 && len(cmd.pos) > want[1] {
		return command{}, usageErr(fmt.Sprintf("Unexpected argument '%s'", cmd.pos[want[1]]))
	}
	return cmd, nil
}

// tartErr is an error as tart reports it.
type tartErr struct {
	msg  string
	code int
	// usage: a swift-argument-parser ValidationError (exit 64, "Error: "
	// prefix and a usage line, on tart 2.x).
	usage bool
	// runtime: a RuntimeError, printed bare with its own exit code on 2.x.
	runtime bool
}

func (e tartErr) Error() string { return e.msg }

func usageErr(msg string) error { return tartErr{msg: msg, code: 64, usage: true} }

// notExist is RuntimeError.VMDoesNotExist.
func notExist(name string) error {
	return tartErr{msg: fmt.Sprintf("the specified VM %q does not exist", name), code: 2, runtime: true}
}

// fail prints err as the imitated tart version would and returns the exit
// status: 2.x prints on stderr (RuntimeErrors bare, others with "Error: "),
// 1.x printed every error on stdout and exited 1 unless it had its own code.
func (f *fakeTart) fail(err error) int {
	var te tartErr
	if !errors.As(err, &te) {
		te = tartErr{msg: err.Error(), code: 1}
	}
	if !f.feat.stderr {
		fmt.Fprintln(f.stdout, te.msg)
		if te.usage {
			return 1
		}
		return te.code
	}
	switch {
	case te.runtime:
		fmt.Fprintln(f.stderr, te.msg)
	case te.usage:
		u, ok := usage[f.sub]
		if !ok {
			u = usage[""]
		}
		fmt.Fprintf(f.stderr, "Error: %s\nUsage: %s\n  See '%s --help' for more information.\n", te.msg, u, strings.Join(strings.Fields(u)[:min(2, len(strings.Fields(u)))], " "))
	default:
		fmt.Fprintf(f.stderr, "Error: %s\n", te.msg)
	}
	return te.code
}
