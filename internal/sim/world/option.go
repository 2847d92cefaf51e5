package world

import (
	"log/slog"
	"net"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/bus"
	"github.com/vmfleet/vmfleet/internal/sim/buildkitefake"
)

// Option configures New.
type Option func(*options)

type options struct {
	nats          bool
	server        bus.ServerConfig
	subj          events.Subjects
	leaderTTL     time.Duration
	name          string
	log           *slog.Logger
	reconnectWait time.Duration
	org, pipeline string
	token         string
	webhookSecret string
	bk            []buildkitefake.Option
	bkTimeout     time.Duration
	bkNow         func() time.Time
	frontLn       net.Listener
}

func defaults() options {
	subj, _ := events.NewSubjects("")
	return options{
		nats: true, subj: subj, leaderTTL: 15 * time.Second, name: "vmfleet-world",
		log: orDiscard(nil), org: DefaultOrg, pipeline: DefaultPipeline,
	}
}

// WithoutNATS builds no nats-server, connection, stream or buckets: for a
// world whose NATS runs elsewhere (e2e's server processes).
func WithoutNATS() Option { return func(o *options) { o.nats = false } }

// WithNATSServer sets the embedded nats-server's configuration. An empty
// Listen is a free loopback port; an empty DataDir a temporary directory
// removed by Close.
func WithNATSServer(cfg bus.ServerConfig) Option { return func(o *options) { o.server = cfg } }

// WithSubjects sets the stream's subjects (default: no prefix).
func WithSubjects(s events.Subjects) Option { return func(o *options) { o.subj = s } }

// WithLeaderTTL sets the leader bucket's TTL (default 15 s).
func WithLeaderTTL(d time.Duration) Option { return func(o *options) { o.leaderTTL = d } }

// WithName names the world's NATS connection; orchestrators' connections
// get it as a prefix (default "vmfleet-world").
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithLogger is where the nats-server and the connections log (default
// nowhere).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = orDiscard(l) } }

// WithReconnectWait sets how long orchestrators' connections wait between
// reconnects (default bus's).
func WithReconnectWait(d time.Duration) Option { return func(o *options) { o.reconnectWait = d } }

// WithPipeline sets the fake Buildkite's organization and pipeline (default
// DefaultOrg, DefaultPipeline).
func WithPipeline(org, pipeline string) Option {
	return func(o *options) { o.org, o.pipeline = org, pipeline }
}

// WithToken sets the fake Buildkite's API token (default a random one).
func WithToken(token string) Option { return func(o *options) { o.token = token } }

// WithWebhooks makes the fake Buildkite send build webhooks signed with
// secret to the front (default none).
func WithWebhooks(secret string) Option { return func(o *options) { o.webhookSecret = secret } }

// WithBuildkite adds options of the fake Buildkite, applied after the
// world's own (token, pipeline, webhook).
func WithBuildkite(opts ...buildkitefake.Option) Option {
	return func(o *options) { o.bk = append(o.bk, opts...) }
}

// WithBuildkiteTimeout sets the request timeout of orchestrators' Buildkite
// clients (default the client's).
func WithBuildkiteTimeout(d time.Duration) Option { return func(o *options) { o.bkTimeout = d } }

// WithFront makes the front serve on ln (default a free loopback port).
// Close closes it.
func WithFront(ln net.Listener) Option { return func(o *options) { o.frontLn = ln } }

// WithBuildkiteClock sets the clock the orchestrators' Buildkite clients
// measure a 429's hold on (default time.Now): give the fake Buildkite's
// clock, so a test moving it by hand reaches RateLimit-Reset.
func WithBuildkiteClock(now func() time.Time) Option { return func(o *options) { o.bkNow = now } }
