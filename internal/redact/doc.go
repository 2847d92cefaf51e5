// Package redact keeps secrets out of logs, errors and dumps.
//
// It owns: the mask "[REDACTED]"; Secret, a string that prints, logs and
// marshals as the mask; URL, which masks the password (or token) in a URL's
// userinfo; and Handler, an slog.Handler that masks known secret values and
// URL passwords in every message and attribute before the next handler
// (JSON or text) sees them.
//
// It must not read files or the environment, hold secrets globally, or log
// anything itself: callers hand it the values to hide.
package redact
