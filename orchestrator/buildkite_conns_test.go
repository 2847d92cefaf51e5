package orchestrator

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBuildkiteClientKeepsConnections: a burst of concurrent creates, then
// a burst of polls, share a bounded pool of kept-alive connections instead of
// dialling one per call (http.Transport keeps 2 idle per host by default).
func TestBuildkiteClientKeepsConnections(t *testing.T) {
	t.Parallel()
	var dials, inFlight, peak atomic.Int64
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
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c, err := NewBuildkiteClient(BuildkiteConfig{APIURL: srv.URL, Token: "t", Org: "acme", Pipeline: "vm", Timeout: 10 * time.Second})
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
	if got := dials.Load(); got > buildkiteConns {
		t.Errorf("Got(connections opened for %d calls) = %d, want at most %d", 2*calls, got, buildkiteConns)
	}
	if got := peak.Load(); got > buildkiteConns {
		t.Errorf("Got(peak requests in flight) = %d, want at most %d", got, buildkiteConns)
	}
}
