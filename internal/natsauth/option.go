package natsauth

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// Option configures a Generator.
type Option func(*Generator) error

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidOption, fmt.Sprintf(format, a...))
}

// WithPrefix sets the subject prefix (default "vmfleet").
func WithPrefix(prefix string) Option {
	return func(g *Generator) error {
		s, err := events.NewSubjects(prefix)
		if err != nil {
			return invalid("prefix: %v", err)
		}
		g.subj = s
		return nil
	}
}

// WithOrchestrator names the orchestrator identity (default "orchestrator");
// its seed is creds/<name>.nk.
func WithOrchestrator(name string) Option {
	return func(g *Generator) error {
		if !events.ValidToken(name) {
			return invalid("orchestrator name %q: want letters, digits, '-' or '_'", name)
		}
		g.orchestrator = name
		return nil
	}
}

// WithOrchestratorInbox restricts the orchestrator's inbox subscriptions to
// prefix+".>" (e.g. "_INBOX.orchestrator"); its clients must then connect
// with that inbox prefix. By default it may subscribe to every inbox.
func WithOrchestratorInbox(prefix string) Option {
	return func(g *Generator) error {
		if prefix == "" || strings.ContainsAny(prefix, "*> \t") || strings.HasSuffix(prefix, ".") {
			return invalid("orchestrator inbox prefix %q: want a literal subject like _INBOX.orchestrator", prefix)
		}
		g.orchInbox = prefix
		return nil
	}
}

// WithConsumers adds read-only consumer identities (dashboards, event tails).
func WithConsumers(names ...string) Option {
	return func(g *Generator) error {
		for _, n := range names {
			if !events.ValidToken(n) {
				return invalid("consumer name %q: want letters, digits, '-' or '_'", n)
			}
		}
		g.consumers = append(g.consumers, names...)
		return nil
	}
}

// WithListen sets the client listen address host:port (default 0.0.0.0:4222).
func WithListen(addr string) Option {
	return func(g *Generator) error {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return invalid("listen %q: want host:port", addr)
		}
		g.server.Listen = addr
		return nil
	}
}

// WithServerName sets server_name (required with a cluster: unique per node).
func WithServerName(name string) Option {
	return func(g *Generator) error {
		if name == "" || strings.ContainsAny(name, " \t\n.*>") {
			return invalid("server name %q: want a name without spaces, dots or wildcards", name)
		}
		g.server.Name = name
		return nil
	}
}

// WithJetStreamDir sets JetStream's store directory.
func WithJetStreamDir(dir string) Option {
	return func(g *Generator) error {
		if dir == "" {
			return invalid("jetstream dir: empty")
		}
		g.server.JetStreamDir = dir
		return nil
	}
}

// WithCluster makes the server a cluster node with password-protected routes.
func WithCluster(c Cluster) Option {
	return func(g *Generator) error {
		if !events.ValidToken(c.Name) {
			return invalid("cluster name %q: want letters, digits, '-' or '_'", c.Name)
		}
		if c.Listen == "" {
			c.Listen = "0.0.0.0:6222"
		}
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			return invalid("cluster listen %q: want host:port", c.Listen)
		}
		if len(c.Routes) == 0 {
			return invalid("cluster %s: give the routes of its nodes (nats-route://host:6222,...)", c.Name)
		}
		for _, r := range c.Routes {
			u, err := url.Parse(r)
			if err != nil || u.Scheme != "nats-route" || u.Host == "" {
				return invalid("route %q: want nats-route://host:port", r)
			}
			if u.User != nil {
				return invalid("route %q: leave credentials out; they are generated", r)
			}
		}
		g.server.Cluster = &c
		return nil
	}
}

// WithTLS requires TLS from clients.
func WithTLS(t TLS) Option {
	return func(g *Generator) error {
		if t.CertFile == "" || t.KeyFile == "" {
			return invalid("tls: both a certificate and a key file are needed")
		}
		if t.Verify && t.CAFile == "" {
			return invalid("tls: verifying client certificates needs a CA file")
		}
		g.server.TLS = &t
		return nil
	}
}

// WithResponseTTL bounds how long a user may answer a request it received
// (default 3h: a pull may take the agent's 2h pull timeout).
func WithResponseTTL(d time.Duration) Option {
	return func(g *Generator) error {
		if d < time.Second {
			return invalid("response ttl %s: want at least 1s", d)
		}
		g.server.ResponseTTL = d
		return nil
	}
}

// WithRotate replaces the seeds of the named identities (host names or
// tokens, the orchestrator's or a consumer's name) with new ones.
func WithRotate(names ...string) Option {
	return func(g *Generator) error {
		g.rotate = append(g.rotate, names...)
		return nil
	}
}

// WithRotateRoutePassword replaces the cluster route password.
func WithRotateRoutePassword() Option {
	return func(g *Generator) error {
		g.rotateRoute = true
		return nil
	}
}

// WithConfigName sets the configuration's file name inside the output
// directory (default "nats-server.conf"), e.g. "n1.conf" for one node.
func WithConfigName(name string) Option {
	return func(g *Generator) error {
		if name == "" || name != filepath.Base(name) || !strings.HasSuffix(name, ".conf") {
			return invalid("config name %q: want a file name ending in .conf", name)
		}
		g.confName = name
		return nil
	}
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(g *Generator) error {
		if l == nil {
			return invalid("nil logger")
		}
		g.log = l
		return nil
	}
}
