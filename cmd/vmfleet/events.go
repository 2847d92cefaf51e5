package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/cliconfig"
	"github.com/vmfleet/vmfleet/internal/natsauth"
)

// eventsConfigEnv names `vmfleet events`' config file.
const eventsConfigEnv = "VMFLEET_EVENTS_CONFIG"

// eventsConfig is `vmfleet events`' configuration (docs/configuration.md,
// section `vmfleet events`). The nats section is the agent's, so one set of
// flags, env names and keys connects every command.
type eventsConfig struct {
	Subjects []string      `yaml:"subjects" flag:"subject" env:"VMFLEET_EVENTS_SUBJECTS" help:"subjects to follow, with or without the prefix (repeat; default: every subject, <prefix>.>)"`
	JSON     bool          `yaml:"json" flag:"json" env:"VMFLEET_EVENTS_JSON" help:"print each event's CloudEvents JSON on one line instead of a summary"`
	Since    time.Duration `yaml:"since" flag:"since" env:"VMFLEET_EVENTS_SINCE" help:"replay from JetStream stream VMFLEET starting this long ago, then follow (host, build and prune events only)"`
	NATS     eventsNATS    `yaml:"nats"`
}

// eventsNATS is the agent's nats section (inbox prefix included) with the
// orchestrator's embedded server as the default URL.
type eventsNATS = agentNATS

// ConfigHelp implements cliconfig.Helper: the agent's wording.
func (eventsConfig) ConfigHelp() map[string]string { return agentNATSHelp }

func defaultEventsConfig() eventsConfig {
	n := eventsNATS{NATSConn: defaultNATSConn()}
	n.URLs = []string{"nats://127.0.0.1:4222"}
	return eventsConfig{NATS: n}
}

func init() {
	register(newEventsCmd)
	configDocs["events"] = func() any { c := defaultEventsConfig(); return &c }
}

func newEventsCmd(g *globalFlags) *cobra.Command {
	cfg := defaultEventsConfig()
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Tail the event stream: health, builds, prunes, readiness, as they happen",
		Long: `Prints vmfleet's events one line each as they arrive: host health, build
lifecycle, prune outcomes, fleet readiness, tag drift and commands. Without
--since it follows from now (a plain subscription on <prefix>.>, or on the
--subject given); with --since it first replays JetStream stream VMFLEET from
that long ago (host, build and prune events: the subjects the stream keeps),
then follows it. --json prints each event's CloudEvents JSON as received, for
jq and other tools; see docs/events.md for the schema.

It connects with the same NATS settings as the agent: --nats-url, --nats-creds,
--nats-nkey-seed, TLS files. With per-host credentials use a read-only consumer
identity from 'vmfleet nats-config --consumer NAME': its inbox prefix
(_INBOX.NAME) is taken from the seed (or the seed file's name) unless
--nats-inbox-prefix says otherwise. A seed 'vmfleet nats-config' wrote for a
host, or for the orchestrator with subjects it does not follow, is refused
before connecting, naming the consumer seed to use. If the server refuses a
subject (a permissions violation) it stops with that error rather than wait
for events that cannot come.`,
		Example: `  vmfleet events
  vmfleet events --subject 'build.>' --subject 'prune.>'
  vmfleet events --since 1h --subject 'host.mac-01.health'
  vmfleet events --json | jq 'select(.type == "dev.vmfleet.build.v1") | .data'
  vmfleet events --nats-url tls://nats.internal:4222 --nats-nkey-seed ~/.vmfleet/ops.nk --nats-ca ca.pem`,
		Args: cobra.NoArgs,
	}
	b := cliconfig.Bind(cmd, &cfg, eventsConfigEnv)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		log, err := g.loadWithLogger(cmd, b)
		if err != nil {
			return err
		}
		return runEvents(cmd.Context(), cfg, cmd.OutOrStdout(), log)
	}
	return cmd
}

// subjects returns the NATS subjects to follow, each under the prefix.
func (c eventsConfig) subjects() ([]string, error) {
	subj, err := events.NewSubjects(c.NATS.SubjectPrefix)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", cliconfig.ErrConfig, err)
	}
	if len(c.Subjects) == 0 {
		return []string{subj.All()}, nil
	}
	out := make([]string, 0, len(c.Subjects))
	for _, s := range c.Subjects {
		s = strings.TrimSpace(s)
		if s == "" || strings.ContainsAny(s, " \t") {
			return nil, fmt.Errorf("%w: --subject %q: want a NATS subject such as build.> or %s.host.*.health", cliconfig.ErrConfig, s, subj.Prefix)
		}
		if s != subj.Prefix && !strings.HasPrefix(s, subj.Prefix+".") {
			s = subj.Prefix + "." + s
		}
		out = append(out, s)
	}
	return out, nil
}

// connect dials NATS as the agent would, with an inbox prefix fit for a
// consumer identity.
func (c eventsConfig) connect(log *slog.Logger) (*nats.Conn, error) {
	if len(c.NATS.URLs) == 0 {
		return nil, fmt.Errorf("%w: no NATS URL: set --nats-url or VMFLEET_NATS_URL", cliconfig.ErrConfig)
	}
	pw, err := c.NATS.password()
	if err != nil {
		return nil, err
	}
	inbox := c.NATS.InboxPrefix
	if id, ok := c.seedIdentity(); inbox == "" && ok && id.Role == natsauth.RoleConsumer {
		inbox = natsauth.InboxPrefix(id.Name) // whatever the file is called
	}
	if inbox == "" && c.NATS.NKeySeedFile != "" {
		// vmfleet nats-config names a seed file after its identity.
		stem := strings.TrimSuffix(filepath.Base(c.NATS.NKeySeedFile), filepath.Ext(c.NATS.NKeySeedFile))
		if events.ValidToken(stem) {
			inbox = natsauth.InboxPrefix(stem)
		}
	}
	return bus.Connect(c.NATS.connConfig("vmfleet events", c.NATS.URLs, pw, inbox), log)
}

// tailMsg is one event received, from either source.
type tailMsg struct {
	subject string
	data    []byte
}

func runEvents(ctx context.Context, c eventsConfig, out io.Writer, log *slog.Logger) error {
	subjects, err := c.subjects()
	if err != nil {
		return err
	}
	if err := c.seedReaderErr(subjects); err != nil { // events_seed.go
		return err
	}
	nc, err := c.connect(log)
	if err != nil {
		return err
	}
	defer nc.Close()
	// A permissions violation never heals by itself: stop and say so rather
	// than wait for events that cannot come.
	denied := make(chan error, 1)
	nc.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		log.Warn("NATS async error", "err", err)
		if errors.Is(err, nats.ErrPermissionViolation) {
			select {
			case denied <- err:
			default:
			}
		}
	})
	ch := make(chan tailMsg, 1024)
	type started struct {
		stop func()
		err  error
	}
	start := make(chan started, 1)
	go func() {
		var s started
		if c.Since > 0 {
			s.stop, s.err = replay(ctx, nc, c, subjects, ch)
		} else {
			s.stop, s.err = follow(nc, subjects, ch)
		}
		start <- s
	}()
	var s started
	select {
	case s = <-start:
	case <-denied: // the API request behind a replay would only time out
		return deniedError(nc)
	}
	if s.err != nil {
		select {
		case <-denied:
			return deniedError(nc)
		default:
			return bus.Explain(nc, s.err)
		}
	}
	defer s.stop()
	prefix := c.NATS.SubjectPrefix
	isTTY := isTerminal(out)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-denied:
			return deniedError(nc)
		case m := <-ch:
			var line string
			if c.JSON {
				line = strings.TrimSpace(string(m.data))
			} else {
				line = formatEvent(prefix, m.subject, m.data, time.Local, isTTY)
			}
			if _, err := fmt.Fprintln(out, line); err != nil {
				return err
			}
		}
	}
}

// deniedError says what the server refused on nc (its last error: a
// permissions violation) and what to do about it.
func deniedError(nc *nats.Conn) error {
	return fmt.Errorf("%w (a consumer identity from 'vmfleet nats-config --consumer NAME' may tail and replay; re-run nats-config and reload the server if it is older than this vmfleet)",
		bus.Explain(nc, errors.New("events refused")))
}

// follow subscribes to subjects from now on (core NATS).
func follow(nc *nats.Conn, subjects []string, ch chan<- tailMsg) (func(), error) {
	var subs []*nats.Subscription
	stop := func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}
	for _, s := range subjects {
		sub, err := nc.Subscribe(s, func(m *nats.Msg) {
			select {
			case ch <- tailMsg{subject: m.Subject, data: m.Data}:
			default: // the terminal cannot keep up: drop rather than stall the connection
			}
		})
		if err != nil {
			stop()
			return nil, fmt.Errorf("subscribe %s: %w", s, err)
		}
		subs = append(subs, sub)
	}
	if err := nc.Flush(); err != nil && !errors.Is(err, nats.ErrConnectionReconnecting) {
		stop()
		return nil, fmt.Errorf("subscribe: %w (is NATS reachable, and may these credentials subscribe to %s?)", err, strings.Join(subjects, ", "))
	}
	return stop, nil
}

// replay reads stream VMFLEET from c.Since ago with an ordered push
// consumer (no state on the server, in order, remade after a gap or a
// reconnect) delivering into the client's own inbox, then keeps following
// it. A push consumer needs nothing a read-only consumer identity from
// `vmfleet nats-config --consumer` lacks: creating and deleting its own
// consumers, subscribing to its inbox and answering flow control. A pull
// consumer would need $JS.API.CONSUMER.MSG.NEXT.VMFLEET.*, which would let
// that identity pull (and so take) the orchestrator's own messages.
func replay(ctx context.Context, nc *nats.Conn, c eventsConfig, subjects []string, ch chan<- tailMsg) (func(), error) {
	js, err := nc.JetStream(nats.MaxWait(15 * time.Second))
	if err != nil {
		return nil, err
	}
	start := time.Now().Add(-c.Since)
	opts := []nats.SubOpt{nats.BindStream(events.StreamName), nats.OrderedConsumer(), nats.StartTime(start)}
	subject := ""
	switch {
	case len(c.Subjects) == 1:
		subject = subjects[0]
	case len(c.Subjects) > 1:
		opts = append(opts, nats.ConsumerFilterSubjects(subjects...))
	}
	sub, err := js.Subscribe(subject, func(m *nats.Msg) {
		select {
		case ch <- tailMsg{subject: m.Subject, data: m.Data}:
		case <-ctx.Done():
		}
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("replay stream %s: %w (--since replays host, build and prune events only; is the orchestrator's stream there, and may these credentials read it?)", events.StreamName, err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}
