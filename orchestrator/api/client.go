package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// DefaultTimeout bounds every request of a Client made by NewClient.
const DefaultTimeout = 30 * time.Second

// maxAnswer bounds an answer's body (a large fleet's host list stays far
// below it).
const maxAnswer = 64 << 20

// Client talks to one orchestrator's HTTP API. Its methods are safe for
// concurrent use.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// NewClient returns a client of the orchestrator at baseURL (e.g.
// "http://127.0.0.1:8080"; without a scheme, as "127.0.0.1:8080", http:// is
// meant) that sends token, when not empty, as its bearer token: the read
// token (or the API token) for reads, the API token for changes.
func NewClient(baseURL, token string) *Client {
	base := strings.TrimRight(strings.TrimSpace(baseURL), "/")
	if base != "" && !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return &Client{base: base, token: token, hc: &http.Client{Timeout: DefaultTimeout}}
}

// WithHTTPClient returns a copy of c sending its requests through hc.
func (c *Client) WithHTTPClient(hc *http.Client) *Client {
	d := *c
	d.hc = hc
	return &d
}

// BaseURL is the orchestrator's base URL, without a trailing slash.
func (c *Client) BaseURL() string { return c.base }

// Error is an answer other than 2xx: the request, the HTTP status and the
// server's message (ErrorResponse.Error; empty when the body had none).
type Error struct {
	Method     string
	Path       string
	StatusCode int
	Status     string // e.g. "404 Not Found"
	Message    string
	// Body is the answer's body as received.
	Body []byte
	// TokenSent reports that the request carried a bearer token (a 401
	// then means a wrong token rather than a missing one).
	TokenSent bool
}

func (e *Error) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("%s %s: %s (%s)", e.Method, e.Path, e.Message, e.Status)
	}
	return fmt.Sprintf("%s %s: %s", e.Method, e.Path, e.Status)
}

// StatusCode is the HTTP status of an *Error in err's chain, or 0 when the
// request got no answer (or err is nil).
func StatusCode(err error) int {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.StatusCode
	}
	return 0
}

// Healthz is GET /healthz: nil while the process serves.
func (c *Client) Healthz(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/healthz", nil, nil)
}

// Ready is GET /readyz. The answer is decoded whatever the status; err is an
// *Error with status 503 while the orchestrator is catching up.
func (c *Client) Ready(ctx context.Context) (ReadyResponse, error) {
	var r ReadyResponse
	b, err := c.send(ctx, http.MethodGet, "/readyz", nil)
	if b != nil {
		if jerr := json.Unmarshal(b, &r); jerr != nil && err == nil {
			err = jerr
		}
	}
	return r, err
}

// Metrics is GET /metrics: the Prometheus text exposition.
func (c *Client) Metrics(ctx context.Context) ([]byte, error) {
	var b []byte
	err := c.do(ctx, http.MethodGet, "/metrics", nil, &b)
	return b, err
}

// Hosts is GET /api/v1/hosts.
func (c *Client) Hosts(ctx context.Context) (HostsResponse, error) {
	var r HostsResponse
	err := c.do(ctx, http.MethodGet, "/api/v1/hosts", nil, &r)
	return r, err
}

// Host is GET /api/v1/hosts/{host}: the host with its last report and its
// cleanup plan (404 for a host the orchestrator does not know).
func (c *Client) Host(ctx context.Context, host string) (HostDetail, error) {
	var v HostDetail
	err := c.do(ctx, http.MethodGet, "/api/v1/hosts/"+url.PathEscape(host), nil, &v)
	return v, err
}

// Builds is GET /api/v1/builds.
func (c *Client) Builds(ctx context.Context) (BuildsResponse, error) {
	var r BuildsResponse
	err := c.do(ctx, http.MethodGet, "/api/v1/builds", nil, &r)
	return r, err
}

// Retry is POST /api/v1/builds/{key}/retry: the key starts again from
// attempt 1 (API token).
func (c *Client) Retry(ctx context.Context, key string) (Record, error) {
	var r Record
	err := c.do(ctx, http.MethodPost, "/api/v1/builds/"+url.PathEscape(key)+"/retry", nil, &r)
	return r, err
}

// Spec is GET /api/v1/spec: the spec in force.
func (c *Client) Spec(ctx context.Context) (events.Spec, error) {
	var s events.Spec
	err := c.do(ctx, http.MethodGet, "/api/v1/spec", nil, &s)
	return s, err
}

// SetSpec is POST /api/v1/spec (API token); the answer is the spec in force.
// A change that needs a confirmation sent without u.Confirm is refused:
// Refusal(err) has its preview.
func (c *Client) SetSpec(ctx context.Context, u SpecUpdate) (events.Spec, error) {
	var s events.Spec
	err := c.do(ctx, http.MethodPost, "/api/v1/spec", u, &s)
	return s, err
}

// PreviewSpec is POST /api/v1/spec with "dry_run": true (API token): the
// impact u would have, and whether it needs u.Confirm. Nothing is written.
// An orchestrator without previews refuses the request (400), never
// applies it.
func (c *Client) PreviewSpec(ctx context.Context, u SpecUpdate) (SpecPreview, error) {
	u.DryRun = true
	var p SpecPreview
	err := c.do(ctx, http.MethodPost, "/api/v1/spec", u, &p)
	return p, err
}

// PreviewPromote is POST /api/v1/spec/promote with "dry_run": true (API
// token): the impact of promoting the staged spec. Nothing is written.
func (c *Client) PreviewPromote(ctx context.Context, pr SpecPromote) (SpecPreview, error) {
	pr.DryRun = true
	var p SpecPreview
	err := c.do(ctx, http.MethodPost, "/api/v1/spec/promote", pr, &p)
	return p, err
}

// PreviewRollback is POST /api/v1/spec/rollback with "dry_run": true (API
// token): the impact of restoring the revision. Nothing is written.
func (c *Client) PreviewRollback(ctx context.Context, rb SpecRollback) (SpecPreview, error) {
	rb.DryRun = true
	var p SpecPreview
	err := c.do(ctx, http.MethodPost, "/api/v1/spec/rollback", rb, &p)
	return p, err
}

// Refusal returns the preview of a spec change refused for want of a
// confirmation: err is an *Error with status 409 whose body is a
// SpecRefusal.
func Refusal(err error) (SpecPreview, bool) {
	e, ok := errors.AsType[*Error](err)
	if !ok || e.StatusCode != http.StatusConflict {
		return SpecPreview{}, false
	}
	var r SpecRefusal
	if json.Unmarshal(e.Body, &r) != nil || r.Preview.Action == "" {
		return SpecPreview{}, false
	}
	return r.Preview, true
}

// Next is GET /api/v1/spec/next: the staged spec (an *Error with status 404
// when none is staged).
func (c *Client) Next(ctx context.Context) (events.Spec, error) {
	var s events.Spec
	err := c.do(ctx, http.MethodGet, "/api/v1/spec/next", nil, &s)
	return s, err
}

// StageSpec is POST /api/v1/spec/next (API token): the spec in force with
// the update applied becomes the staged spec, which is the answer.
func (c *Client) StageSpec(ctx context.Context, u SpecUpdate) (events.Spec, error) {
	var s events.Spec
	err := c.do(ctx, http.MethodPost, "/api/v1/spec/next", u, &s)
	return s, err
}

// UnstageSpec is DELETE /api/v1/spec/next (API token): no rollout.
func (c *Client) UnstageSpec(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/spec/next", nil, nil)
}

// PromoteSpec is POST /api/v1/spec/promote (API token): the staged spec
// becomes the spec in force, which is the answer.
func (c *Client) PromoteSpec(ctx context.Context, p SpecPromote) (events.Spec, error) {
	var s events.Spec
	err := c.do(ctx, http.MethodPost, "/api/v1/spec/promote", p, &s)
	return s, err
}

// SpecHistory is GET /api/v1/spec/history: the spec's changes, newest
// first, at most limit of them (0: all the history holds).
func (c *Client) SpecHistory(ctx context.Context, limit int) (SpecHistoryResponse, error) {
	var r SpecHistoryResponse
	path := "/api/v1/spec/history"
	if limit > 0 {
		path += "?limit=" + strconv.Itoa(limit)
	}
	err := c.do(ctx, http.MethodGet, path, nil, &r)
	return r, err
}

// RollbackSpec is POST /api/v1/spec/rollback (API token): the revision's
// images become the spec in force, which is the answer.
func (c *Client) RollbackSpec(ctx context.Context, rb SpecRollback) (events.Spec, error) {
	var s events.Spec
	err := c.do(ctx, http.MethodPost, "/api/v1/spec/rollback", rb, &s)
	return s, err
}

// Prune is POST /api/v1/hosts/{host}/prune (API token).
func (c *Client) Prune(ctx context.Context, host string, req PruneHostRequest) (PruneHostResponse, error) {
	var r PruneHostResponse
	err := c.do(ctx, http.MethodPost, "/api/v1/hosts/"+url.PathEscape(host)+"/prune", req, &r)
	return r, err
}

// ForgetHost is POST /api/v1/hosts/{host}/forget (API token): the host
// leaves the fleet state and the stream until it reports again.
func (c *Client) ForgetHost(ctx context.Context, host string, req ForgetHostRequest) (events.HostForgotten, error) {
	var r events.HostForgotten
	err := c.do(ctx, http.MethodPost, "/api/v1/hosts/"+url.PathEscape(host)+"/forget", req, &r)
	return r, err
}

// DrainHost is POST /api/v1/hosts/{host}/drain (API token): the host's
// agent forces every release not ready, for req.TTL when set, until
// ResumeHost.
func (c *Client) DrainHost(ctx context.Context, host string, req DrainHostRequest) (events.HostDrain, error) {
	var r events.HostDrain
	err := c.do(ctx, http.MethodPost, "/api/v1/hosts/"+url.PathEscape(host)+"/drain", req, &r)
	return r, err
}

// ResumeHost is POST /api/v1/hosts/{host}/resume (API token): the host's
// forced state is cleared.
func (c *Client) ResumeHost(ctx context.Context, host string, req DrainHostRequest) (events.HostDrain, error) {
	var r events.HostDrain
	err := c.do(ctx, http.MethodPost, "/api/v1/hosts/"+url.PathEscape(host)+"/resume", req, &r)
	return r, err
}

// Prunes is GET /api/v1/prunes.
func (c *Client) Prunes(ctx context.Context) (PrunesResponse, error) {
	var r PrunesResponse
	err := c.do(ctx, http.MethodGet, "/api/v1/prunes", nil, &r)
	return r, err
}

// Leader is GET /api/v1/leader.
func (c *Client) Leader(ctx context.Context) (LeaderStatus, error) {
	var l LeaderStatus
	err := c.do(ctx, http.MethodGet, "/api/v1/leader", nil, &l)
	return l, err
}

// do sends one request (in, when not nil, as its JSON body) and decodes a
// 2xx answer into out (nil: discarded; *[]byte: the raw body); any other
// status is an *Error.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	b, err := c.send(ctx, method, path, in)
	if err != nil {
		return err
	}
	switch o := out.(type) {
	case nil:
		return nil
	case *[]byte:
		*o = b
		return nil
	}
	return json.Unmarshal(b, out)
}

// send sends one request and returns the answer's body; an answer other than
// 2xx is returned with an *Error.
func (c *Client) send(ctx context.Context, method, path string, in any) ([]byte, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("orchestrator at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Method: method, Path: path, StatusCode: resp.StatusCode, Status: resp.Status, Body: b, TokenSent: c.token != ""}
		var eb ErrorResponse
		if json.Unmarshal(b, &eb) == nil {
			e.Message = eb.Error
		}
		return b, e
	}
	return b, nil
}

// Dashboard is GET /api/v1/dashboard: the dashboard page's data.
func (c *Client) Dashboard(ctx context.Context) (DashboardView, error) {
	var v DashboardView
	err := c.do(ctx, http.MethodGet, "/api/v1/dashboard", nil, &v)
	return v, err
}
