package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/lmittmann/tint"
	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/internal/redact"
)

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// newLogger builds the logger: tint on a terminal (or --log-format text),
// slog JSON otherwise, behind a redact.Handler that masks URL passwords, the
// secret-named variables of the environment, and whatever secrets the
// command reads later (redact.Add).
func (g *globalFlags) newLogger(w io.Writer) (*slog.Logger, error) {
	l, err := g.newPlainLogger(w)
	if err != nil {
		return nil, err
	}
	return slog.New(redact.NewHandler(l.Handler(), secretEnvValues(os.Environ())...)), nil
}

// loadWithLogger loads a command's config (flags, env, file) and builds its
// logger on the command's stderr: what every long-running command does first.
func (g *globalFlags) loadWithLogger(cmd *cobra.Command, b *cliconfig.Binder) (*slog.Logger, error) {
	if err := b.Load(); err != nil {
		return nil, err
	}
	return g.newLogger(cmd.ErrOrStderr())
}

func (g *globalFlags) newPlainLogger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", g.logLevel)
	}
	jsonOpts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationText}
	switch strings.ToLower(g.logFormat) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, jsonOpts)), nil
	case "text":
		return slog.New(tint.NewTextHandler(w, &tint.Options{Level: level, NoColor: !isTerminal(w)})), nil
	case "auto", "":
		if isTerminal(w) {
			return slog.New(tint.NewTextHandler(w, &tint.Options{Level: level})), nil
		}
		return slog.New(slog.NewJSONHandler(w, jsonOpts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want auto, text or json", g.logFormat)
}

// durationText writes durations in JSON logs as Go duration text ("15s"),
// as every config key and flag takes them, not as slog's default count of
// nanoseconds.
func durationText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
