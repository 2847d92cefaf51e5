package bus

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Error is a NATS failure as people are shown it: what failed, the URL,
// the identity it connected as (a file or a user name, never a secret) and
// the server's own reason, e.g.
//
//	create stream VMFLEET: context deadline exceeded: NATS nats://127.0.0.1:4222 as user "alice": authorization violation: the server refused these credentials
//
// Explain makes one; it wraps Err.
type Error struct {
	Err error
	// URL is the connected URL, or every URL while not connected
	// (passwords hidden).
	URL string
	// Identity says who the client connected as: "nkey seed file PATH
	// (UABC…)", "creds file PATH", `user "NAME"` or "no credentials".
	Identity string
	// Reason is the server's own reason (connection refused,
	// authorization violation, permissions violation for publish to
	// "SUBJECT"), "" when connected and nothing was refused.
	Reason string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%v: NATS %s as %s", e.Err, e.URL, e.Identity)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// connInfo is what Connect knows of a connection that nats.Conn does not
// keep: the identity, the last failed connect attempt's error (a refused
// TCP connection is not a LastError), and when the server last refused
// something (a permissions violation).
type connInfo struct {
	urls      []string
	identity  string
	connErr   atomic.Pointer[error]
	violation atomic.Pointer[violation]
}

// violation is a permissions violation the connection was told of, and when.
type violation struct {
	err error
	at  time.Time
}

// StaleViolation is how long after the server refused something a failed
// operation is still put down to it. nats.go keeps a permissions violation
// as the connection's last error until it reconnects, so without a bound
// every later failure (a timeout of an unrelated request an hour on) would
// be worded as that refusal. No operation Explain words waits this long.
const StaleViolation = time.Minute

// clock is the time violations are recorded and judged by (time.Now
// unless a test set it).
var clock atomic.Pointer[func() time.Time]

func now() time.Time {
	if f := clock.Load(); f != nil {
		return (*f)()
	}
	return time.Now()
}

// noteViolation records err, when it is a permissions violation, as the
// connection's latest.
func (i *connInfo) noteViolation(err error) {
	if errors.Is(err, nats.ErrPermissionViolation) {
		i.violation.Store(&violation{err: err, at: now()})
	}
}

// staleViolation reports whether last, the connection's last error, is a
// permissions violation the connection was told of more than
// StaleViolation ago. One it was not told of (its error handler replaced,
// or a connection Connect did not make) is not known to be stale.
func (i *connInfo) staleViolation(last error) bool {
	if i == nil {
		return false
	}
	v := i.violation.Load()
	return v != nil && v.err.Error() == last.Error() && now().Sub(v.at) > StaleViolation
}

// conns maps every open *nats.Conn made by Connect to its connInfo.
var conns sync.Map

func infoOf(nc *nats.Conn) *connInfo {
	if v, ok := conns.Load(nc); ok {
		return v.(*connInfo)
	}
	return nil
}

// Identity names the credentials of cfg for people, never a secret.
func (cfg ConnConfig) Identity() string {
	var parts []string
	switch {
	case cfg.CredsFile != "":
		parts = append(parts, "creds file "+cfg.CredsFile)
	case cfg.NKeySeedFile != "":
		parts = append(parts, "nkey seed file "+cfg.NKeySeedFile)
	case cfg.User != "":
		parts = append(parts, fmt.Sprintf("user %q", cfg.User))
	}
	if cfg.CertFile != "" {
		parts = append(parts, "client certificate "+cfg.CertFile)
	}
	if len(parts) == 0 {
		return "no credentials"
	}
	return strings.Join(parts, " and ")
}

// Explain wraps err, a failure of an operation on nc, once in an *Error
// naming nc's URL, identity and the server's reason. An err that is
// already one, or nil, is returned as is.
func Explain(nc *nats.Conn, err error) error {
	if err == nil {
		return nil
	}
	if e := (*Error)(nil); errors.As(err, &e) {
		return err
	}
	url, id, reason := Describe(nc)
	if nc != nil && !nc.IsConnected() && errors.Is(err, nats.ErrHeadersNotSupported) {
		// nats.go cannot know a server it never reached supports headers.
		err = notConnected{err}
	}
	return &Error{Err: err, URL: url, Identity: id, Reason: reason}
}

// notConnected words nats.go's "headers not supported by this server",
// said of a server never reached, as what it is.
type notConnected struct{ err error }

func (e notConnected) Error() string {
	return strings.Replace(e.err.Error(), nats.ErrHeadersNotSupported.Error(), "not connected", 1)
}

func (e notConnected) Unwrap() error { return e.err }

// Describe says where nc connects (URL), as whom (identity) and the
// server's reason for what goes wrong: why it is not connected (the last
// attempt's cause) or, when connected, the last thing the server refused,
// unless that was more than StaleViolation ago.
func Describe(nc *nats.Conn) (url, identity, reason string) {
	if nc == nil {
		return "(no connection)", "no credentials", "not connected"
	}
	info := infoOf(nc)
	identity = "no credentials"
	if info != nil {
		identity = info.identity
	} else if nc.Opts.User != "" {
		identity = fmt.Sprintf("user %q", nc.Opts.User)
	}
	if nk := nc.Opts.Nkey; nk != "" {
		identity += " (" + nk + ")"
	}
	last := nc.LastError()
	if nc.IsConnected() {
		url = nc.ConnectedUrlRedacted()
		if errors.Is(last, nats.ErrPermissionViolation) && !info.staleViolation(last) {
			reason = "the server refused: " + serverReason(last)
		}
		return url, identity, reason
	}
	url = RedactURLs(nc.Servers())
	if info != nil && len(info.urls) > 0 {
		url = RedactURLs(info.urls)
	}
	// "no servers available" says less than the last attempt's own error.
	if (last == nil || errors.Is(last, nats.ErrNoServers)) && info != nil {
		if p := info.connErr.Load(); p != nil {
			last = *p
		}
	}
	if nc.IsClosed() {
		reason = "connection closed"
		if last != nil {
			reason += ": " + connectReason(last)
		}
		return url, identity, reason
	}
	if last == nil {
		return url, identity, "not connected yet"
	}
	return url, identity, connectReason(last)
}

// connectReason is a failed connect's cause in the server's (or the
// network's) words, with what it means.
func connectReason(err error) string {
	s := strings.TrimPrefix(err.Error(), "nats: no servers available for connection ")
	low := strings.ToLower(s)
	switch {
	case strings.Contains(low, "authorization violation"):
		return "authorization violation: the server refused these credentials"
	case strings.Contains(low, "authentication expired"), strings.Contains(low, "authentication revoked"):
		return strings.TrimPrefix(s, "nats: ") + ": the server refused these credentials"
	case strings.Contains(low, "connection refused"):
		return "connection refused: no NATS server listens there (" + s + ")"
	case errors.Is(err, nats.ErrNoServers):
		return "no server reached yet"
	}
	return strings.TrimPrefix(s, "nats: ")
}

// serverReason is a permissions violation in the server's words:
// `Permissions Violation for Publish to "SUBJECT"`.
func serverReason(err error) string {
	s := err.Error()
	if _, after, ok := strings.Cut(s, "nats: permissions violation: "); ok {
		return after
	}
	return strings.TrimPrefix(s, "nats: ")
}
