package web

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// handleBuilds is GET /api/v1/builds[?state=S...][&host=H...]: the build
// records, only those in one of the states and pinned to one of the hosts
// when asked (each parameter repeated or comma separated). An unknown state
// is refused (400) rather than answered with an empty list.
func (s *Server) handleBuilds(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	states := queryList(q[api.BuildsQueryState])
	for _, st := range states {
		if !events.BuildState(st).Valid() {
			writeError(w, http.StatusBadRequest, fmt.Errorf("state %q: want one of %s", st, strings.Join(api.BuildStates(), ", ")))
			return
		}
	}
	hosts := queryList(q[api.BuildsQueryHost])
	for i, h := range hosts {
		tok, err := events.HostToken(h)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("host %q: %v", h, err))
			return
		}
		hosts[i] = tok
	}
	recs := s.o.Builds()
	if len(states) > 0 || len(hosts) > 0 {
		recs = slices.DeleteFunc(recs, func(rec api.Record) bool {
			return (len(states) > 0 && !slices.Contains(states, string(rec.State))) ||
				(len(hosts) > 0 && !slices.Contains(hosts, rec.Host))
		})
	}
	if recs == nil {
		recs = []api.Record{}
	}
	writeJSON(w, http.StatusOK, api.BuildsResponse{Builds: recs})
}

// queryList splits repeated, comma separated query values, dropping empty ones.
func queryList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
