package buildkitefake

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/buildkite/go-buildkite/v3/buildkite"
	"github.com/vmfleet/vmfleet/events"
)

const (
	testToken = "tok"
	org       = "acme"
	pipe      = "build-macos-vm"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newFake starts a fake with the test token and logger, closed at cleanup.
func newFake(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s, err := New(t.Context(), append([]Option{WithToken(testToken), WithLogger(testLogger(t))}, opts...)...)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// errRateLimited is what stop429 returns instead of a 429 response, so
// go-buildkite v3's internal GET retry loop (up to 15 minutes) stops at once.
type errRateLimited struct{ Reset, Remaining string }

func (e *errRateLimited) Error() string { return "rate limited, reset in " + e.Reset + "s" }

type stop429 struct{ base http.RoundTripper }

func (t stop429) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusTooManyRequests {
		return resp, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return nil, &errRateLimited{Reset: resp.Header.Get("RateLimit-Reset"), Remaining: resp.Header.Get("RateLimit-Remaining")}
}

// newClient is the real go-buildkite client against s, with 429 stopped at the transport.
func newClient(t *testing.T, s *Server, token string) *buildkite.Client {
	t.Helper()
	hc := &http.Client{Transport: stop429{http.DefaultTransport}, Timeout: 10 * time.Second}
	return newClientWith(t, s, token, hc)
}

func newClientWith(t *testing.T, s *Server, token string, hc *http.Client) *buildkite.Client {
	t.Helper()
	var (
		c   *buildkite.Client
		err error
	)
	if token == "" {
		c, err = buildkite.NewOpts(buildkite.WithBaseURL(s.URL()), buildkite.WithHTTPClient(hc))
	} else {
		c, err = buildkite.NewOpts(buildkite.WithBaseURL(s.URL()), buildkite.WithHTTPClient(hc), buildkite.WithTokenAuth(token))
	}
	if err != nil {
		t.Fatalf("buildkite.NewOpts() = %v", err)
	}
	return c
}

func create(t *testing.T, c *buildkite.Client, key, branch string) buildkite.Build {
	t.Helper()
	b, _, err := c.Builds.Create(org, pipe, &buildkite.CreateBuild{
		Commit: "HEAD", Branch: branch, Message: "build " + key,
		Env:      map[string]string{events.EnvKey: key, events.EnvTargetHost: "mac-1"},
		MetaData: map[string]string{events.MetaKey: key, events.MetaImage: "img-" + key},
	})
	if err != nil {
		t.Fatalf("Create(%s) = %v", key, err)
	}
	return *b
}

func numbers(bs []buildkite.Build) []int {
	out := []int{}
	for _, b := range bs {
		out = append(out, *b.Number)
	}
	return out
}

// apiStatus extracts the HTTP status of a go-buildkite error.
func apiStatus(err error) int {
	var er *buildkite.ErrorResponse
	if errors.As(err, &er) {
		return er.Response.StatusCode
	}
	return 0
}

func apiMessage(err error) string {
	var er *buildkite.ErrorResponse
	if errors.As(err, &er) {
		return er.Message
	}
	return fmt.Sprint(err)
}
