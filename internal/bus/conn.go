package bus

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// ErrNoURL means no NATS server address was given.
var ErrNoURL = errors.New("no NATS URL: set --nats-url or VMFLEET_NATS_URL")

// ConnConfig says how to reach NATS. Secrets are file paths, never values.
type ConnConfig struct {
	// URLs are one or more nats:// or tls:// addresses (a cluster).
	URLs []string
	// Name is the connection name shown by the server.
	Name string
	// CredsFile is a JWT user credentials file.
	CredsFile string
	// NKeySeedFile is a file holding an NKey seed.
	NKeySeedFile string
	// User and Password authenticate with a user/password (Password from a file or env).
	User, Password string
	// CAFile, CertFile, KeyFile configure TLS.
	CAFile, CertFile, KeyFile string
	// InboxPrefix keeps request replies private, e.g. "_INBOX.<host>".
	InboxPrefix string
	// ReconnectWait between attempts (default 1s). Reconnects never give up.
	ReconnectWait time.Duration
	// OnReconnect is called after every reconnect.
	OnReconnect func()
	// OnConnectError, if set, is called with the error of every failed
	// connect or reconnect attempt (connection refused, TLS, and so on).
	OnConnectError func(error)
}

// Connect dials NATS. It returns at once even if the server is not up yet
// (RetryOnFailedConnect): the client keeps trying in the background and
// buffers publishes meanwhile, so an agent keeps working while NATS is down.
// Each new cause of failing to connect is logged as a warning naming the
// URL, the identity and the server's reason; Explain words the errors of
// operations on the connection the same way.
func Connect(cfg ConnConfig, log *slog.Logger) (*nats.Conn, error) {
	if len(cfg.URLs) == 0 {
		return nil, ErrNoURL
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	wait := cfg.ReconnectWait
	if wait <= 0 {
		wait = time.Second
	}
	info := &connInfo{urls: cfg.URLs, identity: cfg.Identity()}
	var logged atomic.Pointer[string] // the connect failure last logged as a warning
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(wait),
		nats.RetryOnFailedConnect(true),
		// Refused credentials are retried too: the server's configuration
		// may be fixed and reloaded while the process waits.
		nats.IgnoreAuthErrorAbort(),
		nats.ReconnectBufSize(8 << 20),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ClosedHandler(func(c *nats.Conn) { conns.Delete(c) }),
		nats.ReconnectHandler(func(c *nats.Conn) {
			logged.Store(nil)
			log.Info("NATS reconnected", "url", c.ConnectedUrlRedacted())
			if cfg.OnReconnect != nil {
				cfg.OnReconnect()
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Warn("NATS async error", "subject", subj, "err", err)
			info.noteViolation(err) // explain.go
		}),
	}
	opts = append(opts, nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
		// The first attempt's "no servers available" says less than a
		// dial's or the server's own error: keep that one.
		if p := info.connErr.Load(); p == nil || !errors.Is(err, nats.ErrNoServers) {
			info.connErr.Store(&err)
		}
		// Each new cause is a warning naming URL, identity and reason;
		// the same cause again, every attempt, is not.
		reason := connectReason(err)
		if p := logged.Swap(&reason); p == nil || *p != reason {
			log.Warn("cannot connect to NATS; retrying", "url", RedactURLs(cfg.URLs), "identity", info.identity, "reason", reason)
		} else {
			log.Debug("NATS connect attempt failed", "urls", RedactURLs(cfg.URLs), "err", err)
		}
		if cfg.OnConnectError != nil {
			cfg.OnConnectError(err)
		}
	}))
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.NKeySeedFile != "" {
		o, err := nats.NkeyOptionFromSeed(cfg.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("nats nkey seed file %s: %w", cfg.NKeySeedFile, err)
		}
		opts = append(opts, o)
	}
	if cfg.User != "" {
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	}
	if cfg.CAFile != "" {
		opts = append(opts, nats.RootCAs(cfg.CAFile))
	}
	if cfg.CertFile != "" || cfg.KeyFile != "" {
		opts = append(opts, nats.ClientCert(cfg.CertFile, cfg.KeyFile))
	}
	if cfg.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(cfg.InboxPrefix))
	}
	nc, err := nats.Connect(strings.Join(cfg.URLs, ","), opts...)
	if err != nil {
		return nil, &Error{Err: fmt.Errorf("connect: %w", err), URL: RedactURLs(cfg.URLs), Identity: info.identity, Reason: connectReason(err)}
	}
	conns.Store(nc, info)
	return nc, nil
}

// RedactURLs joins urls with commas, passwords embedded in them hidden.
func RedactURLs(urls []string) string {
	out := make([]string, len(urls))
	for i, u := range urls {
		if at := strings.LastIndex(u, "@"); at >= 0 {
			if s := strings.Index(u, "://"); s >= 0 && s < at {
				u = u[:s+3] + "[REDACTED]" + u[at:]
			}
		}
		out[i] = u
	}
	return strings.Join(out, ",")
}
