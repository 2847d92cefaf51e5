package buildkitefake

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/buildkite/go-buildkite/v3/buildkite"
	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
)

func TestCreateBuild(t *testing.T) {
	t.Parallel()
	clock := newClock()
	s := newFake(t, WithPipelines(org, pipe), WithClock(clock.Now))
	c := newClient(t, s, testToken)

	tests := []struct {
		name       string
		pipeline   string
		req        buildkite.CreateBuild
		wantStatus int
		wantMsg    string
		wantNumber int
	}{
		{name: "created", pipeline: pipe, wantNumber: 1, req: buildkite.CreateBuild{
			Commit: "HEAD", Branch: "main", Message: "img",
			Env:      map[string]string{events.EnvImage: "img", events.EnvTargetHost: "mac-1"},
			MetaData: map[string]string{events.MetaKey: "k1"},
		}},
		{name: "numbers increase", pipeline: pipe, wantNumber: 2, req: buildkite.CreateBuild{Commit: "HEAD", Branch: "main"}},
		{name: "missing commit", pipeline: pipe, req: buildkite.CreateBuild{Branch: "main"},
			wantStatus: http.StatusUnprocessableEntity, wantMsg: "Validation Failed"},
		{name: "missing branch", pipeline: pipe, req: buildkite.CreateBuild{Commit: "HEAD"},
			wantStatus: http.StatusUnprocessableEntity, wantMsg: "Validation Failed"},
		{name: "unknown pipeline", pipeline: "nope", req: buildkite.CreateBuild{Commit: "HEAD", Branch: "main"},
			wantStatus: http.StatusNotFound, wantMsg: "Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, resp, err := c.Builds.Create(org, tt.pipeline, &tt.req)
			if tt.wantStatus != 0 {
				if got := apiStatus(err); got != tt.wantStatus {
					t.Fatalf("Got(Create status) = %d (%v), want %d", got, err, tt.wantStatus)
				}
				if got := apiMessage(err); got != tt.wantMsg {
					t.Errorf("Got(message) = %q, want %q", got, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Got(Create) = %v, want nil", err)
			}
			if resp.StatusCode != http.StatusCreated {
				t.Errorf("Got(status) = %d, want 201", resp.StatusCode)
			}
			got := map[string]any{
				"number": *b.Number, "state": *b.State, "commit": *b.Commit, "branch": *b.Branch,
				"pipeline": *b.Pipeline.Slug, "created": b.CreatedAt.Time, "id": len(*b.ID),
				"meta": b.MetaData, "env": len(b.Env),
			}
			want := map[string]any{
				"number": tt.wantNumber, "state": "scheduled", "commit": "HEAD", "branch": "main",
				"pipeline": pipe, "created": t0, "id": 36,
				"meta": orEmpty(tt.req.MetaData), "env": len(tt.req.Env),
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Got(build) mismatch (-want +got):\n%s", diff)
			}
			if !strings.HasSuffix(*b.URL, "/builds/"+strconv.Itoa(tt.wantNumber)) || *b.WebURL == "" {
				t.Errorf("Got(url, web_url) = %q, %q", *b.URL, *b.WebURL)
			}
		})
	}
	if got := s.CreatedCount("k1"); got != 1 {
		t.Errorf("Got(CreatedCount(k1)) = %d, want 1", got)
	}
}

func TestGetBuild(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	c := newClient(t, s, testToken)
	created := create(t, c, "k1", "main")

	tests := []struct {
		name, id   string
		wantStatus int
	}{
		{name: "found", id: "1", wantStatus: http.StatusOK},
		{name: "missing", id: "2", wantStatus: http.StatusNotFound},
		{name: "not a number", id: "x", wantStatus: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _, err := c.Builds.Get(org, pipe, tt.id, nil)
			if tt.wantStatus != http.StatusOK {
				if got := apiStatus(err); got != tt.wantStatus {
					t.Errorf("Got(Get(%s) status) = %d (%v), want %d", tt.id, got, err, tt.wantStatus)
				}
				return
			}
			if err != nil {
				t.Fatalf("Got(Get) = %v, want nil", err)
			}
			if *b.ID != *created.ID || b.Env[events.EnvTargetHost] != "mac-1" {
				t.Errorf("Got(Get) = id %s env %v, want id %s with %s", *b.ID, b.Env, *created.ID, events.EnvTargetHost)
			}
		})
	}
}

// seedBuilds makes five builds one minute apart:
// 1 k1 passed, 2 k2 passed, 3 k1 running, 4 k3 running, 5 k1 scheduled on feature/x.
func seedBuilds(t *testing.T) (*Server, *buildkite.Client) {
	t.Helper()
	clock := newClock()
	s := newFake(t, WithClock(clock.Now))
	c := newClient(t, s, testToken)
	for _, key := range []string{"k1", "k2"} {
		clock.Add(time.Minute)
		create(t, c, key, "main")
	}
	s.Step()
	s.Step()
	for _, key := range []string{"k1", "k3"} {
		clock.Add(time.Minute)
		create(t, c, key, "main")
	}
	s.Step()
	clock.Add(time.Minute)
	create(t, c, "k1", "feature/x")
	return s, c
}

func TestListBuilds(t *testing.T) {
	t.Parallel()
	s, c := seedBuilds(t)

	tests := []struct {
		name string
		opt  buildkite.BuildsListOptions
		want []int
	}{
		{name: "all, newest first", want: []int{5, 4, 3, 2, 1}},
		{name: "meta key", opt: buildkite.BuildsListOptions{MetaData: meta(events.MetaKey, "k1")}, want: []int{5, 3, 1}},
		{name: "meta key and live states", want: []int{5, 3}, opt: buildkite.BuildsListOptions{
			MetaData: meta(events.MetaKey, "k1"), State: []string{"scheduled", "running"}}},
		{name: "two meta keys", want: []int{5, 3, 1}, opt: buildkite.BuildsListOptions{
			MetaData: buildkite.MetaDataFilters{MetaData: map[string]string{events.MetaKey: "k1", events.MetaImage: "img-k1"}}}},
		{name: "meta mismatch", want: []int{}, opt: buildkite.BuildsListOptions{
			MetaData: buildkite.MetaDataFilters{MetaData: map[string]string{events.MetaKey: "k1", events.MetaImage: "img-k2"}}}},
		{name: "finished", opt: buildkite.BuildsListOptions{State: []string{"finished"}}, want: []int{2, 1}},
		{name: "branch glob", opt: buildkite.BuildsListOptions{Branch: []string{"feature/*"}}, want: []int{5}},
		{name: "created from", opt: buildkite.BuildsListOptions{CreatedFrom: t0.Add(4 * time.Minute)}, want: []int{5, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := c.Builds.ListByPipeline(org, pipe, &tt.opt)
			if err != nil {
				t.Fatalf("Got(ListByPipeline) = %v, want nil", err)
			}
			if diff := cmp.Diff(tt.want, numbers(got)); diff != "" {
				t.Errorf("Got(ListByPipeline numbers) mismatch (-want +got):\n%s", diff)
			}
			byOrg, _, err := c.Builds.ListByOrg(org, &tt.opt)
			if err != nil {
				t.Fatalf("Got(ListByOrg) = %v, want nil", err)
			}
			all, _, err := c.Builds.List(&tt.opt)
			if err != nil {
				t.Fatalf("Got(List) = %v, want nil", err)
			}
			if diff := cmp.Diff(numbers(got), numbers(byOrg)); diff != "" {
				t.Errorf("Got(ListByOrg) differs from ListByPipeline:\n%s", diff)
			}
			if diff := cmp.Diff(numbers(got), numbers(all)); diff != "" {
				t.Errorf("Got(List) differs from ListByPipeline:\n%s", diff)
			}
		})
	}
	// Single-value forms the client does not send: state=, branch=.
	for q, want := range map[string]int{"state=running": 2, "branch=main": 4, "state=bogus": 0} {
		req, _ := c.NewRequest("GET", "v2/organizations/"+org+"/builds?"+q, nil)
		var got []buildkite.Build
		if _, err := c.Do(req, &got); err != nil || len(got) != want {
			t.Errorf("Got(GET ?%s) = %d builds, %v, want %d", q, len(got), err, want)
		}
	}
	if got := s.RequestCount("GET", RoutePipelineBuilds, 200); got != len(tests) {
		t.Errorf("Got(RequestCount pipeline list) = %d, want %d", got, len(tests))
	}
}

func meta(k, v string) buildkite.MetaDataFilters {
	return buildkite.MetaDataFilters{MetaData: map[string]string{k: v}}
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	_, c := seedBuilds(t)
	opt := &buildkite.BuildsListOptions{ListOptions: buildkite.ListOptions{PerPage: 2}}
	var pages [][]int
	lastPages := []int{}
	for {
		got, resp, err := c.Builds.ListByPipeline(org, pipe, opt)
		if err != nil {
			t.Fatalf("Got(ListByPipeline page %d) = %v", opt.Page, err)
		}
		pages = append(pages, numbers(got))
		lastPages = append(lastPages, resp.LastPage)
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	if diff := cmp.Diff([][]int{{5, 4}, {3, 2}, {1}}, pages); diff != "" {
		t.Errorf("Got(pages) mismatch (-want +got):\n%s", diff)
	}
	// rel="last" is on every page but the last, as the real API does.
	if diff := cmp.Diff([]int{3, 3, 0}, lastPages); diff != "" {
		t.Errorf("Got(LastPage per page) mismatch (-want +got):\n%s", diff)
	}
	// Paging keeps filters.
	opt = &buildkite.BuildsListOptions{MetaData: meta(events.MetaKey, "k1"), ListOptions: buildkite.ListOptions{PerPage: 1, Page: 2}}
	got, resp, err := c.Builds.ListByPipeline(org, pipe, opt)
	if err != nil || len(got) != 1 || *got[0].Number != 3 || resp.NextPage != 3 || resp.PrevPage != 1 || resp.FirstPage != 1 {
		t.Errorf("Got(filtered page 2) = %v next=%d prev=%d first=%d err=%v, want [3] 3 1 1",
			numbers(got), resp.NextPage, resp.PrevPage, resp.FirstPage, err)
	}
}

func TestCancelBuild(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	c := newClient(t, s, testToken)
	create(t, c, "a", "main")
	s.Step() // #1 running
	create(t, c, "b", "main")
	create(t, c, "c", "main")
	s.Step() // #1 passed; #2, #3 running
	create(t, c, "d", "main")

	tests := []struct {
		name       string
		number     string
		wantState  string
		wantStatus int
		afterStep  State
	}{
		{name: "scheduled is canceled at once", number: "4", wantState: "canceled", afterStep: StateCanceled},
		{name: "running is canceling until the next step", number: "2", wantState: "canceling", afterStep: StateCanceled},
		{name: "finished is 422", number: "1", wantStatus: http.StatusUnprocessableEntity, afterStep: StatePassed},
		{name: "unknown is 404", number: "9", wantStatus: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := c.Builds.Cancel(org, pipe, tt.number)
			if tt.wantStatus != 0 {
				if got := apiStatus(err); got != tt.wantStatus {
					t.Errorf("Got(Cancel(%s) status) = %d (%v), want %d", tt.number, got, err, tt.wantStatus)
				}
				return
			}
			if err != nil || *b.State != tt.wantState {
				t.Fatalf("Got(Cancel(%s)) = %v, %v, want state %s", tt.number, b, err, tt.wantState)
			}
		})
	}
	s.Step()
	for _, tt := range tests {
		if tt.afterStep == "" {
			continue
		}
		b, err := s.GetBuild(org, pipe, int(tt.number[0]-'0'))
		if err != nil || b.State != tt.afterStep {
			t.Errorf("Got(state of #%s after Step) = %s, %v, want %s", tt.number, b.State, err, tt.afterStep)
		}
	}
	for key, want := range map[string]int{"a": 0, "b": 0, "c": 0, "d": 0} {
		if got := s.LiveCount(key); got != want {
			t.Errorf("Got(LiveCount(%s)) = %d, want %d", key, got, want)
		}
	}
}
