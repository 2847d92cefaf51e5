package buildkitefake

import (
	"fmt"
	"log/slog"
	"time"
)

// Option configures a Server.
type Option func(*config) error

type config struct {
	token     string
	addr      string
	pipelines map[string]map[string]bool // org -> pipeline slugs; nil: any
	now       func() time.Time
	queued    time.Duration
	run       time.Duration
	outcome   func(Build) State
	logger    *slog.Logger

	webhookURL     string
	webhookSecret  string
	webhookToken   string
	webhookTimeout time.Duration
	webhookWorkers int

	rateLimit  int
	rateWindow time.Duration
	enforce    bool

	agentAPIConfig
}

func defaultConfig() config {
	return config{
		now:            time.Now,
		outcome:        func(Build) State { return StatePassed },
		logger:         slog.New(slog.DiscardHandler),
		webhookTimeout: 5 * time.Second,
		webhookWorkers: 1,
		rateLimit:      200,
		rateWindow:     time.Minute,
		agentAPIConfig: defaultAgentAPIConfig(),
	}
}

// WithToken requires "Authorization: Bearer <token>" on every request.
// Without it any request is accepted.
func WithToken(token string) Option {
	return func(c *config) error {
		if token == "" {
			return fmt.Errorf("%w: empty token", ErrInvalidOption)
		}
		c.token = token
		return nil
	}
}

// WithAddr listens on addr (e.g. "127.0.0.1:8089") instead of a random loopback port.
func WithAddr(addr string) Option {
	return func(c *config) error {
		c.addr = addr
		return nil
	}
}

// WithPipelines restricts which pipelines exist: once used, only the listed
// (org, slug) pairs exist and any other org or pipeline answers 404.
// By default every org and pipeline exists.
func WithPipelines(org string, slugs ...string) Option {
	return func(c *config) error {
		if org == "" {
			return fmt.Errorf("%w: empty org", ErrInvalidOption)
		}
		if c.pipelines == nil {
			c.pipelines = map[string]map[string]bool{}
		}
		if c.pipelines[org] == nil {
			c.pipelines[org] = map[string]bool{}
		}
		for _, s := range slugs {
			c.pipelines[org][s] = true
		}
		return nil
	}
}

// WithClock sets the clock used for timestamps, Step, Advance, the rate-limit
// window and webhook signature timestamps. Default: time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrInvalidOption)
		}
		c.now = now
		return nil
	}
}

// WithTimings sets how long a build stays scheduled before it runs, and how
// long it runs before its outcome, as seen by Tick. Default: 0 and 0, so one
// Tick takes a new build to its outcome.
func WithTimings(queued, run time.Duration) Option {
	return func(c *config) error {
		if queued < 0 || run < 0 {
			return fmt.Errorf("%w: negative timing %v/%v", ErrInvalidOption, queued, run)
		}
		c.queued, c.run = queued, run
		return nil
	}
}

// WithOutcome decides how a running build finishes: StatePassed, StateFailed
// or StateCanceled (anything else counts as StateFailed). Default: passed.
// fn runs under the server's lock and must not call the Server.
func WithOutcome(fn func(Build) State) Option {
	return func(c *config) error {
		if fn == nil {
			return fmt.Errorf("%w: nil outcome", ErrInvalidOption)
		}
		c.outcome = fn
		return nil
	}
}

// WithWebhook posts a build webhook to url on every build state change.
// A non-empty secret signs each delivery in X-Buildkite-Signature.
func WithWebhook(url, secret string) Option {
	return func(c *config) error {
		if url == "" {
			return fmt.Errorf("%w: empty webhook url", ErrInvalidOption)
		}
		c.webhookURL, c.webhookSecret = url, secret
		return nil
	}
}

// WithWebhookToken also sends X-Buildkite-Token: token with each webhook.
func WithWebhookToken(token string) Option {
	return func(c *config) error {
		c.webhookToken = token
		return nil
	}
}

// WithWebhookTimeout bounds each webhook delivery. Default: 5 s.
func WithWebhookTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: webhook timeout %v", ErrInvalidOption, d)
		}
		c.webhookTimeout = d
		return nil
	}
}

// WithRateLimit enforces limit requests per window (on the server clock),
// answering 429 beyond it like the real API. Without it the RateLimit-*
// headers still count requests against 200 per minute, but nothing is refused.
func WithRateLimit(limit int, window time.Duration) Option {
	return func(c *config) error {
		if limit <= 0 || window <= 0 {
			return fmt.Errorf("%w: rate limit %d per %v", ErrInvalidOption, limit, window)
		}
		c.rateLimit, c.rateWindow, c.enforce = limit, window, true
		return nil
	}
}

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		c.logger = l
		return nil
	}
}

// WithWebhookWorkers delivers webhooks from n workers at once (default 1:
// one at a time, in the order of the changes). Buildkite sends them from a
// pool of background workers; with n > 1, as there, webhooks of different
// builds may arrive out of order, and each build's still arrive in order.
func WithWebhookWorkers(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 64 {
			return fmt.Errorf("%w: webhook workers %d: want 1 to 64", ErrInvalidOption, n)
		}
		c.webhookWorkers = n
		return nil
	}
}
