package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/api"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/orchestrator/pulls"
)

func TestCellState(t *testing.T) {
	img := testImages().ImageName("14")
	hostKey, fleetKey := builds.RecordKey(img, "mac-01"), builds.RecordKey(img, "")
	tests := []struct {
		name    string
		st      events.ReleaseStatus
		stale   bool
		forced  bool
		pulling bool
		rec     *api.Record
		want    string
	}{
		{name: "ready", st: events.ReleaseStatus{Ready: true, Reason: events.ReasonReady}, want: api.CellReady},
		{name: "missing", st: events.ReleaseStatus{Reason: events.ReasonImageMissing}, want: api.CellMissing},
		{name: "bootstrap mismatch is missing", st: events.ReleaseStatus{Reason: events.ReasonBootstrapMismatch}, want: api.CellMissing},
		{name: "tart error", st: events.ReleaseStatus{Reason: events.ReasonTartError}, want: api.CellError},
		{name: "host build running", st: events.ReleaseStatus{Reason: events.ReasonImageMissing},
			rec: &api.Record{Key: hostKey, State: events.BuildRunning, Number: 7, URL: "https://bk/7"}, want: api.CellBuilding},
		{name: "fleet build requested", st: events.ReleaseStatus{Reason: events.ReasonImageMissing},
			rec: &api.Record{Key: fleetKey, State: events.BuildRequested}, want: api.CellBuilding},
		{name: "blocked key", st: events.ReleaseStatus{Reason: events.ReasonImageMissing},
			rec: &api.Record{Key: hostKey, State: events.BuildBlocked}, want: api.CellBlocked},
		{name: "failed, waiting to retry, is missing", st: events.ReleaseStatus{Reason: events.ReasonImageMissing},
			rec: &api.Record{Key: hostKey, State: events.BuildFailed}, want: api.CellMissing},
		{name: "passed build is not shown", st: events.ReleaseStatus{Ready: true, Reason: events.ReasonReady},
			rec: &api.Record{Key: hostKey, State: events.BuildPassed}, want: api.CellReady},
		{name: "pulling beats building", st: events.ReleaseStatus{Reason: events.ReasonImageMissing}, pulling: true,
			rec: &api.Record{Key: fleetKey, State: events.BuildRunning}, want: api.CellPulling},
		{name: "forced ready", st: events.ReleaseStatus{Ready: true, Reason: events.ReasonForcedReady}, want: api.CellForced},
		{name: "forced not ready", st: events.ReleaseStatus{Reason: events.ReasonForcedNotReady}, want: api.CellForced},
		{name: "override in force", st: events.ReleaseStatus{Ready: true, Reason: events.ReasonReady}, forced: true, want: api.CellForced},
		{name: "stale beats everything", st: events.ReleaseStatus{Ready: true, Reason: events.ReasonReady}, stale: true, forced: true, want: api.CellStale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix := &dashIndex{byKey: map[string]*api.Record{}, pulling: map[pulls.HostImage]bool{}}
			if tt.rec != nil {
				ix.byKey[tt.rec.Key] = tt.rec
			}
			if tt.pulling {
				ix.pulling[pulls.HostImage{Host: "mac-01", Image: img}] = true
			}
			tt.st.Release, tt.st.ExpectedImage = "14", img
			c := cell("mac-01", tt.st, tt.stale, tt.forced, ix)
			if c.State != tt.want {
				t.Errorf("Got(cell state) = %q, want %q", c.State, tt.want)
			}
			if tt.rec != nil && tt.rec.State != events.BuildPassed && (c.Build == nil || c.Build.URL != tt.rec.URL) {
				t.Errorf("Got(cell build) = %+v, want the record's link %q", c.Build, tt.rec.URL)
			}
		})
	}
}

func TestDashboardView(t *testing.T) {
	now := t0.Add(30 * time.Second)
	o := newTestServer(t, &fakeBK{}, orchestrator.Config{}, func() time.Time { return now })
	for _, host := range []string{"mac-02", "mac-01"} {
		h := health(host, "b", 1, t0)
		h.BuildkiteTags = append(h.BuildkiteTags, "queue=darwin")
		o.o.TakeHealth("vmfleet.host."+host+".health", encode(t, h), t0)
	}
	o.o.ReconcileOnce(context.Background())
	v := o.Dashboard()
	var got []string
	for _, h := range v.Hosts {
		for _, c := range h.Cells {
			s := h.Host + " " + h.Queue + " " + c.Release + " " + c.State
			if c.Build != nil {
				s += " " + c.Build.URL
			}
			got = append(got, s)
		}
	}
	want := []string{
		"mac-01 darwin 13 ready",
		"mac-01 darwin 14 building https://buildkite.com/acme/build-macos-vm/builds/1",
		"mac-02 darwin 13 ready",
		"mac-02 darwin 14 building https://buildkite.com/acme/build-macos-vm/builds/2",
	}
	// Builds are created concurrently: which host got number 1 is not fixed.
	for i := range got {
		got[i] = regexp.MustCompile(`/builds/\d+$`).ReplaceAllString(got[i], "/builds/N")
		want[i] = regexp.MustCompile(`/builds/\d+$`).ReplaceAllString(want[i], "/builds/N")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Got(cells) diff (-want +got):\n%s", diff)
	}
	if len(v.Builds) != 2 {
		t.Errorf("Got(len(builds)) = %d, want 2 live builds", len(v.Builds))
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"cleanup":{"windows":[]`, `"prunes":[]`, `"caught_up":true`, `"last_seen":`} {
		if !strings.Contains(string(b), field) {
			t.Errorf("Got(dashboard JSON) lacks %s:\n%s", field, b)
		}
	}
	if strings.Contains(string(b), `"releases":[{"release":"13","expected_image"`) {
		t.Errorf("Got(dashboard JSON) repeats HostView.releases beside the cells")
	}
}

func TestDashboardPageIsSelfContained(t *testing.T) {
	o := newTestServer(t, nil, orchestrator.Config{}, time.Now)
	srv := httptest.NewServer(o.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("Got(GET /) = %s %s, want 200 text/html", resp.Status, resp.Header.Get("Content-Type"))
	}
	page := string(body)
	// Nothing loaded from elsewhere: no src/href to another origin, no
	// stylesheet or script files, no web fonts.
	for _, bad := range []string{" src=", "<link", "@import", "url(", "fetch(\"http", "new EventSource(\"http"} {
		if strings.Contains(page, bad) {
			t.Errorf("Got(page) contains %q: the dashboard must work offline, with no external assets", bad)
		}
	}
	for _, want := range []string{`aria-live="polite"`, "prefers-color-scheme: dark", ":focus-visible", `<th scope="col"`, `new EventSource("api/v1/events")`} {
		if !strings.Contains(page, want) {
			t.Errorf("Got(page) lacks %q", want)
		}
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'sha256-") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Got(CSP) = %q, want default-src 'none' and the inline script allowed by hash only", csp)
	}
	if resp, err := http.Get(srv.URL + "/nope"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("Got(GET /nope) = %v %v, want 404 (the page is only at /)", resp.Status, err)
	}
}
