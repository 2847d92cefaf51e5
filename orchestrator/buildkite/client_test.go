package buildkite

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gobk "github.com/buildkite/go-buildkite/v3/buildkite"
	"github.com/google/go-cmp/cmp"
)

// TestBuildkiteClientKeepsConnections: a burst of concurrent creates, then
// a burst of polls, share a bounded pool of kept-alive connections instead of
// dialling one per call (http.Transport keeps 2 idle per host by default).
//
// The cap is on connections open at once, not on dials: http.Transport
// closes a connection rather than reuse it when it has not seen its
// request's write complete within 50 ms of the response (a loaded machine
// can delay that goroutine), and the next call dials a replacement. So the
// test counts closes too, and waits for the server to see the client's.
func TestBuildkiteClientKeepsConnections(t *testing.T) {
	t.Parallel()
	var dials, closes, inFlight, peak atomic.Int64
	var number atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(time.Millisecond) // a request takes a while: the burst overlaps
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
		}
		fmt.Fprintf(w, `{"number": %d, "state": "scheduled"}`, number.Add(1))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			dials.Add(1)
		case http.StateClosed, http.StateHijacked:
			closes.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c, err := New(Config{APIURL: srv.URL, Token: "t", Org: "acme", Pipeline: "vm", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	const calls = 200
	for _, burst := range []struct {
		name string
		call func(i int) error
	}{
		{"create", func(i int) error {
			_, err := c.CreateBuild(t.Context(), BuildRequest{Key: fmt.Sprintf("k%d", i)})
			return err
		}},
		{"get", func(i int) error { _, err := c.GetBuild(t.Context(), i+1); return err }},
	} {
		var wg sync.WaitGroup
		errs := make(chan error, calls)
		for i := range calls {
			wg.Go(func() {
				if err := burst.call(i); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("Got(%s) = %v, want no error", burst.name, err)
		}
	}
	// A connection the client closed reaches the server's count once the
	// server reads its EOF: wait for that (a client holding more than the
	// cap never gets there).
	open := func() int64 { return dials.Load() - closes.Load() }
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(10 * time.Second); open() > buildkiteConns && time.Now().Before(deadline); {
		<-tick.C
	}
	if got := open(); got > buildkiteConns {
		t.Errorf("Got(connections open after %d calls) = %d (%d opened, %d closed), want at most %d", 2*calls, got, dials.Load(), closes.Load(), buildkiteConns)
	}
	// Kept alive: three calls in four at least reuse a connection (the
	// default transport, keeping 2 idle, dials for most of the burst).
	if got := dials.Load(); got > 2*calls/4 {
		t.Errorf("Got(connections opened for %d calls) = %d, want at most %d", 2*calls, got, 2*calls/4)
	}
	if got := peak.Load(); got > buildkiteConns {
		t.Errorf("Got(peak requests in flight) = %d, want at most %d", got, buildkiteConns)
	}
}

// TestBuildFieldsDecodeAsBuildkiteBuild: the client's slim decode of a
// build reads what decoding the whole gobk.Build would.
func TestBuildFieldsDecodeAsBuildkiteBuild(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
	}{
		{"running, as the REST API returns it", `{"id":"f62a1b4d-10f9-4790-bc1c-e2c3a0c80983","graphql_id":"QnVpbGQtLS1mYmQ2Zjk3OS0yOTRhLTQ3ZjItOTU0Ni1lNTk0M2VlMTAwNzE=",
			"url":"https://api.buildkite.com/v2/organizations/acme/pipelines/vm/builds/1","web_url":"https://buildkite.com/acme/vm/builds/1",
			"number":1,"state":"running","blocked":false,"message":"vmfleet: build img on mac-01 (attempt 2)","commit":"HEAD","branch":"main",
			"env":{"VMFLEET_KEY":"img/mac-01"},"source":"api","creator":{"id":"3d3c3bf0","name":"Keith Pitt","email":"keith@buildkite.com","created_at":"2015-05-22T12:36:45.309Z"},
			"jobs":[{"id":"b63254c0","type":"script","name":"build","state":"running","agent_query_rules":["queue=darwin"],"created_at":"2015-05-09T21:05:59.874Z","started_at":"2015-05-09T21:06:01.000Z","finished_at":null}],
			"created_at":"2015-05-09T21:05:59.874Z","scheduled_at":"2015-05-09T21:05:59.874Z","started_at":"2015-05-09T21:06:01.000Z","finished_at":null,
			"meta_data":{"vmfleet-key":"img/mac-01","vmfleet-image":"img","vmfleet-attempt":"2"},"pull_request":null,
			"pipeline":{"id":"849411f9","slug":"vm","name":"VM","repository":"git@github.com:acme/vm.git","steps":[{"type":"script","command":"make"}],"created_at":"2015-05-09T21:05:59.874Z"}}`},
		{"finished", `{"number":7,"state":"passed","web_url":"https://buildkite.com/acme/vm/builds/7","meta_data":{"vmfleet-key":"k","vmfleet-attempt":"1"},
			"created_at":"2025-03-01T12:00:00Z","finished_at":"2025-03-01T12:20:00.5Z"}`},
		{"no meta-data, nulls", `{"number":3,"state":"scheduled","web_url":null,"meta_data":null,"created_at":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var whole gobk.Build
			if err := json.Unmarshal([]byte(tt.body), &whole); err != nil {
				t.Fatal(err)
			}
			var slim buildFields
			if err := json.Unmarshal([]byte(tt.body), &slim); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(buildInfo(whole), slim.info()); diff != "" {
				t.Errorf("Got(slim decode) differs from gobk.Build's (-whole +slim):\n%s", diff)
			}
		})
	}
}
