package web

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// TestBuildsQuery filters GET /api/v1/builds by state and host on the
// server, through the API client.
func TestBuildsQuery(t *testing.T) {
	recs := []api.Record{
		{Key: "img-14/mac-01", Image: "img-14", Release: "14", Host: "mac-01", State: events.BuildRunning, Number: 7, URL: "https://buildkite.com/acme/build-macos-vm/builds/7"},
		{Key: "img-14/mac-02", Image: "img-14", Release: "14", Host: "mac-02", State: events.BuildFailed, Attempt: 2},
		{Key: "img-13/mac-01", Image: "img-13", Release: "13", Host: "mac-01", State: events.BuildBlocked, Attempt: 5},
	}
	s := newTestServer(t, nil, orchestrator.Config{}, func() time.Time { return t0 }, recs...)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	c := api.NewClient(srv.URL, "")
	for _, tt := range []struct {
		name string
		q    api.BuildsQuery
		want []string
	}{
		{"all", api.BuildsQuery{}, []string{"img-13/mac-01", "img-14/mac-01", "img-14/mac-02"}},
		{"one state", api.BuildsQuery{States: []string{"running"}}, []string{"img-14/mac-01"}},
		{"two states, comma separated", api.BuildsQuery{States: []string{"failed,blocked"}}, []string{"img-13/mac-01", "img-14/mac-02"}},
		{"host", api.BuildsQuery{Hosts: []string{"mac-01"}}, []string{"img-13/mac-01", "img-14/mac-01"}},
		{"host by its name", api.BuildsQuery{Hosts: []string{"MAC-02"}}, []string{"img-14/mac-02"}},
		{"state and host", api.BuildsQuery{States: []string{"blocked"}, Hosts: []string{"mac-01"}}, []string{"img-13/mac-01"}},
		{"nothing matches", api.BuildsQuery{States: []string{"passed"}}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := c.ListBuilds(t.Context(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range resp.Builds {
				got = append(got, r.Key)
			}
			if !slices.Equal(got, tt.want) || resp.Builds == nil {
				t.Errorf("Got(keys) = %v (nil %v), want %v", got, resp.Builds == nil, tt.want)
			}
		})
	}
	_, err := c.ListBuilds(t.Context(), api.BuildsQuery{States: []string{"green"}})
	if api.StatusCode(err) != 400 || err == nil {
		t.Fatalf("Got(unknown state) = %v, want 400", err)
	}
	if msg := err.Error(); !strings.Contains(msg, `state "green": want one of requested, scheduled, running, passed, failed, canceled, blocked`) {
		t.Errorf("Got(unknown state error) = %q, want the states listed", msg)
	}
}
