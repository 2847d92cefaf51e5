package api_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// fakeServer answers like the orchestrator for a few routes and records
// what it was sent.
func fakeServer(t *testing.T) (*httptest.Server, *[]string) {
	t.Helper()
	var seen []string
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /api/v1/hosts", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, 200, api.HostsResponse{Hosts: []api.HostView{{Host: "mac-01", State: api.HostReady}}})
	})
	mux.HandleFunc("GET /api/v1/hosts/{host}", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, 404, api.ErrorResponse{Error: "no such host"})
	})
	mux.HandleFunc("POST /api/v1/builds/{rest...}", func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, api.Record{Key: strings.TrimSuffix(r.PathValue("rest"), "/retry")})
	})
	mux.HandleFunc("POST /api/v1/spec", func(w http.ResponseWriter, r *http.Request) {
		var u api.SpecUpdate
		if err := json.NewDecoder(r.Body).Decode(&u); err != nil || r.Header.Get("Content-Type") != "application/json" {
			reply(w, 400, api.ErrorResponse{Error: "bad body"})
			return
		}
		reply(w, 200, events.Spec{Images: events.ImageSpec{Releases: u.Releases}, UpdatedBy: u.By})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, 503, api.ReadyResponse{Status: api.ReadyCatchingUp, LeaderStatus: api.LeaderStatus{Instance: "a"}})
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("up 1\n")) })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.EscapedPath()+" "+r.Header.Get("Authorization"))
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func TestClientRoutes(t *testing.T) {
	t.Parallel()
	srv, seen := fakeServer(t)
	c := api.NewClient(srv.URL+"/", "tok")
	ctx := t.Context()

	hosts, err := c.Hosts(ctx)
	if err != nil || len(hosts.Hosts) != 1 || hosts.Hosts[0].Host != "mac-01" {
		t.Errorf("Got(Hosts) = %+v, %v, want mac-01", hosts, err)
	}
	rec, err := c.Retry(ctx, "img/mac-01")
	if err != nil || rec.Key != "img/mac-01" {
		t.Errorf("Got(Retry) = %+v, %v, want key img/mac-01", rec, err)
	}
	spec, err := c.SetSpec(ctx, api.SpecUpdate{Releases: []string{"14"}, By: "ops"})
	if err != nil || !cmp.Equal(spec.Images.Releases, []string{"14"}) || spec.UpdatedBy != "ops" {
		t.Errorf("Got(SetSpec) = %+v, %v, want releases 14 by ops", spec, err)
	}
	m, err := c.Metrics(ctx)
	if err != nil || string(m) != "up 1\n" {
		t.Errorf("Got(Metrics) = %q, %v, want the text", m, err)
	}
	want := []string{
		"GET /api/v1/hosts Bearer tok",
		"POST /api/v1/builds/img%2Fmac-01/retry Bearer tok",
		"POST /api/v1/spec Bearer tok",
		"GET /metrics Bearer tok",
	}
	if diff := cmp.Diff(want, *seen); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	srv, _ := fakeServer(t)
	c := api.NewClient(srv.URL, "")

	_, err := c.Host(t.Context(), "mac-09")
	var e *api.Error
	if !errors.As(err, &e) || e.StatusCode != 404 || e.Message != "no such host" {
		t.Fatalf("Got(Host unknown) = %v, want an *Error 404 with the server's message", err)
	}
	if got, want := err.Error(), "GET /api/v1/hosts/mac-09: no such host (404 Not Found)"; got != want {
		t.Errorf("Got(error text) = %q, want %q", got, want)
	}
	if got := api.StatusCode(err); got != 404 {
		t.Errorf("Got(StatusCode) = %d, want 404", got)
	}

	r, err := c.Ready(t.Context())
	if api.StatusCode(err) != 503 || r.Status != api.ReadyCatchingUp || r.Instance != "a" {
		t.Errorf("Got(Ready) = %+v, %v, want 503 with the body decoded", r, err)
	}

	_, err = c.Prunes(t.Context())
	if got := err.Error(); got != "GET /api/v1/prunes: 404 Not Found" {
		t.Errorf("Got(error without a message) = %q, want method, path and status", got)
	}

	srv.Close()
	_, err = c.Spec(t.Context())
	if err == nil || api.StatusCode(err) != 0 || !strings.HasPrefix(err.Error(), "orchestrator at "+srv.URL+": ") {
		t.Errorf("Got(Spec from a closed server) = %v, want a transport error naming the server", err)
	}
}
