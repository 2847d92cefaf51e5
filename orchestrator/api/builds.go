package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/vmfleet/vmfleet/events"
)

// Query parameters of GET /api/v1/builds, each repeated or comma separated.
const (
	// BuildsQueryState keeps the records in one of these states
	// (events.BuildState; an unknown one is refused with 400).
	BuildsQueryState = "state"
	// BuildsQueryHost keeps the records pinned to one of these hosts (host
	// mode; a registry build is for every host and has none).
	BuildsQueryHost = "host"
)

// BuildsQuery filters GET /api/v1/builds; the zero value asks for every record.
type BuildsQuery struct {
	States []string
	Hosts  []string
}

// BuildStates lists every build state, in lifecycle order (the values of
// ?state=).
func BuildStates() []string {
	return []string{string(events.BuildRequested), string(events.BuildScheduled), string(events.BuildRunning),
		string(events.BuildPassed), string(events.BuildFailed), string(events.BuildCanceled), string(events.BuildBlocked)}
}

// ListBuilds is GET /api/v1/builds with q's filters applied by the server.
func (c *Client) ListBuilds(ctx context.Context, q BuildsQuery) (BuildsResponse, error) {
	v := url.Values{}
	for _, s := range q.States {
		v.Add(BuildsQueryState, s)
	}
	for _, h := range q.Hosts {
		v.Add(BuildsQueryHost, h)
	}
	path := "/api/v1/builds"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var r BuildsResponse
	err := c.do(ctx, http.MethodGet, path, nil, &r)
	return r, err
}
