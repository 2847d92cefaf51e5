package buildkitefake

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/buildkite/go-buildkite/v3/buildkite"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	open, err := New(t.Context(), WithLogger(testLogger(t))) // no WithToken: any caller is let in
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	t.Cleanup(open.Close)
	tests := []struct {
		name       string
		srv        *Server
		token      string
		wantStatus int
	}{
		{name: "no token", srv: s, wantStatus: http.StatusUnauthorized},
		{name: "wrong token", srv: s, token: "nope", wantStatus: http.StatusUnauthorized},
		{name: "right token", srv: s, token: testToken, wantStatus: http.StatusOK},
		{name: "no token configured", srv: open, token: "anything", wantStatus: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, resp, err := newClient(t, tt.srv, tt.token).Builds.ListByOrg(org, nil)
			if resp == nil {
				t.Fatalf("Got(ListByOrg) = %v with no response, want status %d", err, tt.wantStatus)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("Got(status) = %d (%v), want %d", resp.StatusCode, err, tt.wantStatus)
			}
			if resp.Header.Get("RateLimit-Limit") != "200" {
				t.Errorf("Got(RateLimit-Limit) = %q, want 200", resp.Header.Get("RateLimit-Limit"))
			}
		})
	}
}

func TestRateLimitHeaders(t *testing.T) {
	t.Parallel()
	clock := newClock()
	s := newFake(t, WithClock(clock.Now), WithRateLimit(2, time.Minute))
	c := newClient(t, s, testToken)
	for i, want := range []string{"1", "0"} {
		_, resp, err := c.Builds.ListByOrg(org, nil)
		if err != nil || resp.Header.Get("RateLimit-Remaining") != want || resp.Header.Get("RateLimit-Reset") != "60" {
			t.Errorf("Got(request %d headers) = remaining %q reset %q (%v), want %s 60", i,
				resp.Header.Get("RateLimit-Remaining"), resp.Header.Get("RateLimit-Reset"), err, want)
		}
	}
	clock.Add(15 * time.Second)
	_, _, err := c.Builds.ListByOrg(org, nil)
	var rl *errRateLimited
	if !errors.As(err, &rl) || rl.Reset != "45" || rl.Remaining != "0" {
		t.Errorf("Got(3rd request) = %v, want rate limited with reset 45", err)
	}
	clock.Add(45 * time.Second)
	if _, _, err := c.Builds.ListByOrg(org, nil); err != nil {
		t.Errorf("Got(request in next window) = %v, want nil", err)
	}
}

func TestFault429(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	c := newClient(t, s, testToken)
	create(t, c, "k", "main")

	t.Run("429 on POST reaches the caller with headers", func(t *testing.T) {
		s.AddFault(Fault{Method: "POST", Status: 429, Reset: 42 * time.Second})
		plain := newClientWith(t, s, testToken, &http.Client{Timeout: 5 * time.Second})
		_, _, err := plain.Builds.Create(org, pipe, &buildkite.CreateBuild{Commit: "HEAD", Branch: "main"})
		var er *buildkite.ErrorResponse
		if !errors.As(err, &er) || er.Response.StatusCode != 429 ||
			er.Response.Header.Get("RateLimit-Remaining") != "0" || er.Response.Header.Get("RateLimit-Reset") != "42" {
			t.Errorf("Got(Create under 429) = %v, want ErrorResponse 429 with RateLimit-Remaining 0, Reset 42", err)
		}
	})
	t.Run("429 on GET stopped at the transport", func(t *testing.T) {
		s.AddFault(Fault{Method: "GET", Route: RouteBuild, Status: 429, Reset: 7 * time.Second})
		before := s.RequestCount("GET", RouteBuild, 0)
		_, _, err := c.Builds.Get(org, pipe, "1", nil)
		var rl *errRateLimited
		if !errors.As(err, &rl) || rl.Reset != "7" {
			t.Errorf("Got(Get under 429) = %v, want errRateLimited reset 7", err)
		}
		if got := s.RequestCount("GET", RouteBuild, 0) - before; got != 1 {
			t.Errorf("Got(GET attempts) = %d, want 1 (no client retry)", got)
		}
	})
	t.Run("429 on GET retried inside go-buildkite without a transport stop", func(t *testing.T) {
		s.FailNext(1, 429)
		before := [2]int{s.RequestCount("GET", RouteBuild, 429), s.RequestCount("GET", RouteBuild, 200)}
		plain := newClientWith(t, s, testToken, &http.Client{Timeout: 5 * time.Second})
		if _, _, err := plain.Builds.Get(org, pipe, "1", nil); err != nil {
			t.Errorf("Got(Get after one 429) = %v, want the client's own retry to succeed", err)
		}
		got := [2]int{s.RequestCount("GET", RouteBuild, 429) - before[0], s.RequestCount("GET", RouteBuild, 200) - before[1]}
		if got != [2]int{1, 1} {
			t.Errorf("Got(new 429s, 200s) = %v, want [1 1]: one 429, then the client's hidden retry", got)
		}
	})
}

func TestFaultStatusAndLatency(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	c := newClient(t, s, testToken)
	create(t, c, "k", "main")
	for _, status := range []int{500, 502, 503} {
		t.Run("status "+http.StatusText(status), func(t *testing.T) {
			s.FailNext(1, status)
			_, _, err := c.Builds.Get(org, pipe, "1", nil)
			if got := apiStatus(err); got != status {
				t.Errorf("Got(status) = %d (%v), want %d", got, err, status)
			}
			if _, _, err := c.Builds.Get(org, pipe, "1", nil); err != nil {
				t.Errorf("Got(next Get) = %v, want nil", err)
			}
		})
	}
	t.Run("latency ends when the client gives up", func(t *testing.T) {
		s.AddFault(Fault{Latency: time.Hour})
		impatient := newClientWith(t, s, testToken, &http.Client{Transport: stop429{http.DefaultTransport}, Timeout: 50 * time.Millisecond})
		if _, _, err := impatient.Builds.Get(org, pipe, "1", nil); err == nil {
			t.Errorf("Got(Get under 1h latency) = nil, want a client timeout")
		}
		if _, _, err := c.Builds.Get(org, pipe, "1", nil); err != nil {
			t.Errorf("Got(next Get) = %v, want nil", err)
		}
	})
}

func TestUnknownRoute(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	c := newClient(t, s, testToken)
	req, _ := c.NewRequest("GET", "v2/organizations/acme/nothing", nil)
	_, err := c.Do(req, nil)
	if apiStatus(err) != 404 || apiMessage(err) != "Not Found" {
		t.Errorf("Got(unknown route) = %v, want 404 Not Found", err)
	}
	if got := s.RequestCount("GET", "", 404); got != 1 {
		t.Errorf("Got(RequestCount unmatched) = %d, want 1", got)
	}
}

func TestBaseURLWithoutSlash(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	c, err := buildkite.NewOpts(buildkite.WithTokenAuth(testToken), buildkite.WithBaseURL(strings.TrimSuffix(s.URL(), "/")))
	if err != nil {
		t.Fatalf("NewOpts() = %v", err)
	}
	if _, _, err := c.Builds.ListByOrg(org, nil); err != nil {
		t.Errorf("Got(ListByOrg with %q) = %v, want nil", strings.TrimSuffix(s.URL(), "/"), err)
	}
}
