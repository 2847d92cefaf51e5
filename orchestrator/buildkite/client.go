package buildkite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	gobk "github.com/buildkite/go-buildkite/v3/buildkite"
	"github.com/vmfleet/vmfleet/events"
)

// MetaAttempt is the build meta-data carrying the record's attempt number, so
// a create in doubt is matched to its own attempt.
const MetaAttempt = "vmfleet-attempt"

// buildkiteConns bounds the default transport's connections to Buildkite,
// each kept alive for the next call.
const buildkiteConns = 32

// DefaultURL is the Buildkite REST API.
const DefaultURL = "https://api.buildkite.com/"

// DefaultTimeout bounds one HTTP request when Config.Timeout is not set.
const DefaultTimeout = 30 * time.Second

// BuildRequest is one build to create on the build-macos-vm pipeline.
type BuildRequest struct {
	Key      string
	Attempt  int
	Message  string
	Env      map[string]string
	MetaData map[string]string
}

// BuildInfo is what the orchestrator needs of a Buildkite build.
type BuildInfo struct {
	Number int
	// State is the Buildkite state mapped onto vmfleet's lifecycle; RawState
	// is Buildkite's own word.
	State    events.BuildState
	RawState string
	URL      string
	// Key and Attempt come from the build's meta-data.
	Key        string
	Attempt    int
	CreatedAt  time.Time
	FinishedAt time.Time
}

// Config configures the Buildkite client.
type Config struct {
	// APIURL defaults to DefaultURL.
	APIURL string
	// Token is the API access token (read_builds, write_builds). Never logged.
	Token    string
	Org      string
	Pipeline string
	// Branch and Commit of the pipeline to build (defaults "main" and "HEAD").
	Branch string
	Commit string
	// Timeout bounds one HTTP request (default 30 s).
	Timeout time.Duration
	// Transport is the base transport (default: a clone of http.DefaultTransport).
	Transport http.RoundTripper
	// Now is the clock the rate-limit hold is measured on (default time.Now).
	Now func() time.Time
}

// Client is the Buildkite REST API through go-buildkite v3.
type Client struct {
	c                             *gobk.Client
	org, pipeline, branch, commit string
}

// New makes a client whose calls take a context, time out, and
// return a *RateLimitError on 429 at once instead of go-buildkite's internal
// retry (up to 15 minutes for a GET).
func New(cfg Config) (*Client, error) {
	switch {
	case cfg.Token == "":
		return nil, fmt.Errorf("%w: no Buildkite API token: set --buildkite-token-file or BUILDKITE_API_TOKEN", ErrInvalidOption)
	case cfg.Org == "":
		return nil, fmt.Errorf("%w: no Buildkite organization: set --buildkite-org", ErrInvalidOption)
	case cfg.Pipeline == "":
		return nil, fmt.Errorf("%w: no Buildkite pipeline: set --buildkite-pipeline", ErrInvalidOption)
	}
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultURL
	}
	if !strings.HasSuffix(cfg.APIURL, "/") {
		cfg.APIURL += "/"
	}
	if u, err := url.Parse(cfg.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%w: Buildkite API URL %q: want http(s)://host/", ErrInvalidOption, cfg.APIURL)
	}
	if cfg.Branch == "" {
		cfg.Branch = "main"
	}
	if cfg.Commit == "" {
		cfg.Commit = "HEAD"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	base := cfg.Transport
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		t.TLSHandshakeTimeout = 10 * time.Second
		t.ResponseHeaderTimeout = cfg.Timeout
		// A bump sends a create for every host missing an image at once,
		// and the poll fallback reads every live build: with the default 2
		// idle connections per host, all but two of those requests dial (and
		// shake hands) anew and close after. Keep a pool instead, bounded so
		// a thousand concurrent calls queue for a connection rather than
		// open a thousand sockets (HTTP/2 multiplexes them over one).
		t.MaxConnsPerHost = buildkiteConns
		t.MaxIdleConnsPerHost = buildkiteConns
		t.MaxIdleConns = buildkiteConns
		base = t
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	hc := &http.Client{Transport: &rateLimitTransport{base: base, now: cfg.Now}, Timeout: cfg.Timeout}
	c, err := gobk.NewOpts(gobk.WithTokenAuth(cfg.Token), gobk.WithBaseURL(cfg.APIURL),
		gobk.WithHTTPClient(hc), gobk.WithUserAgent("vmfleet"))
	if err != nil {
		return nil, fmt.Errorf("%w: buildkite client: %w", ErrInvalidOption, err)
	}
	return &Client{c: c, org: cfg.Org, pipeline: cfg.Pipeline, branch: cfg.Branch, commit: cfg.Commit}, nil
}

// rateLimitTransport turns a 429 into a *RateLimitError carrying
// RateLimit-Reset, so go-buildkite never sleeps on it, and holds every
// later call of the client (builds, agents, pauses alike) until that reset:
// a held call returns a *RateLimitError with the time left at once, without
// reaching Buildkite.
type rateLimitTransport struct {
	base  http.RoundTripper
	now   func() time.Time
	mu    sync.Mutex
	until time.Time // no call before this
}

func (t *rateLimitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	now := t.now()
	t.mu.Lock()
	until := t.until
	t.mu.Unlock()
	if now.Before(until) {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, &RateLimitError{Reset: until.Sub(now), Held: true}
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusTooManyRequests {
		return resp, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	e := &RateLimitError{Remaining: resp.Header.Get("RateLimit-Remaining")}
	if s, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("RateLimit-Reset"))); err == nil && s > 0 {
		e.Reset = time.Duration(s) * time.Second
	}
	t.mu.Lock()
	if u := t.now().Add(e.Reset); u.After(t.until) {
		t.until = u
	}
	t.mu.Unlock()
	return nil, e
}

func (c *Client) path(rest string) string {
	return fmt.Sprintf("v2/organizations/%s/pipelines/%s/builds%s", url.PathEscape(c.org), url.PathEscape(c.pipeline), rest)
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) (*gobk.Response, error) {
	req, err := c.c.NewRequest(method, path, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.c.Do(req.WithContext(ctx), out)
	var er *gobk.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		msg := er.Message
		if msg == "" {
			msg = http.StatusText(er.Response.StatusCode)
		}
		return resp, &APIError{Status: er.Response.StatusCode, Message: msg}
	}
	return resp, err
}

// buildFields are the fields of a Buildkite build the orchestrator reads.
// Responses are decoded into it rather than into gobk.Build, whose
// pipeline, creator and jobs (each with its own pointers) are allocated for
// nothing on every create, poll and listing.
type buildFields struct {
	Number     *int              `json:"number"`
	State      *string           `json:"state"`
	WebURL     *string           `json:"web_url"`
	MetaData   map[string]string `json:"meta_data"`
	CreatedAt  *gobk.Timestamp   `json:"created_at"`
	FinishedAt *gobk.Timestamp   `json:"finished_at"`
}

func (b *buildFields) info() BuildInfo {
	return buildInfo(gobk.Build{
		Number: b.Number, State: b.State, WebURL: b.WebURL, MetaData: b.MetaData,
		CreatedAt: b.CreatedAt, FinishedAt: b.FinishedAt,
	})
}

// CreateBuild creates a build with the request's env and meta-data.
func (c *Client) CreateBuild(ctx context.Context, req BuildRequest) (BuildInfo, error) {
	var b buildFields
	body := &gobk.CreateBuild{Commit: c.commit, Branch: c.branch, Message: req.Message, Env: req.Env, MetaData: req.MetaData}
	if _, err := c.do(ctx, http.MethodPost, c.path(""), body, &b); err != nil {
		return BuildInfo{}, fmt.Errorf("create build for %s: %w", req.Key, err)
	}
	return b.info(), nil
}

// ListBuilds lists builds by meta-data vmfleet-key, newest first (up to 300).
func (c *Client) ListBuilds(ctx context.Context, key string) ([]BuildInfo, error) {
	var out []BuildInfo
	for page := 1; page > 0 && page <= 3; {
		q := url.Values{}
		q.Set("meta_data["+events.MetaKey+"]", key)
		q.Set("per_page", "100")
		q.Set("page", strconv.Itoa(page))
		var bs []buildFields
		resp, err := c.do(ctx, http.MethodGet, c.path("?"+q.Encode()), nil, &bs)
		if err != nil {
			return nil, fmt.Errorf("list builds for %s: %w", key, err)
		}
		for i := range bs {
			out = append(out, bs[i].info())
		}
		page = resp.NextPage
	}
	return out, nil
}

// GetBuild reads one build of the pipeline.
func (c *Client) GetBuild(ctx context.Context, number int) (BuildInfo, error) {
	var b buildFields
	if _, err := c.do(ctx, http.MethodGet, c.path("/"+strconv.Itoa(number)), nil, &b); err != nil {
		return BuildInfo{}, fmt.Errorf("get build %d: %w", number, err)
	}
	return b.info(), nil
}

// CancelBuild cancels one build of the pipeline and returns the build as
// Buildkite answers: "canceled" for a build that had not started,
// "canceling" for one whose jobs are being stopped. A build that cannot be
// canceled (already finished, or unknown) is an *APIError for which
// CannotCancel holds.
func (c *Client) CancelBuild(ctx context.Context, number int) (BuildInfo, error) {
	var b buildFields
	if _, err := c.do(ctx, http.MethodPut, c.path("/"+strconv.Itoa(number)+"/cancel"), nil, &b); err != nil {
		return BuildInfo{}, fmt.Errorf("cancel build %d: %w", number, err)
	}
	return b.info(), nil
}

func buildInfo(b gobk.Build) BuildInfo {
	bi := BuildInfo{Key: b.MetaData[events.MetaKey]}
	if b.Number != nil {
		bi.Number = *b.Number
	}
	if b.State != nil {
		bi.RawState = *b.State
	}
	bi.State = mapState(bi.RawState)
	if b.WebURL != nil {
		bi.URL = *b.WebURL
	}
	bi.Attempt, _ = strconv.Atoi(b.MetaData[MetaAttempt])
	if b.CreatedAt != nil {
		bi.CreatedAt = b.CreatedAt.Time
	}
	if b.FinishedAt != nil {
		bi.FinishedAt = b.FinishedAt.Time
	}
	return bi
}

// mapState maps a Buildkite build state onto vmfleet's lifecycle. Anything
// unknown counts as running: live, so nothing is created beside it.
func mapState(s string) events.BuildState {
	switch s {
	case "passed":
		return events.BuildPassed
	case "failed", "waiting_failed":
		return events.BuildFailed
	case "canceled", "skipped", "not_run":
		return events.BuildCanceled
	case "scheduled", "creating", "waiting":
		return events.BuildScheduled
	}
	return events.BuildRunning
}
