package web

import (
	"errors"
	"net/http"

	"github.com/vmfleet/vmfleet/orchestrator/api"
)

// handleHosts is GET /api/v1/hosts: every host, and by host each
// release's state as the dashboard shows it.
func (s *Server) handleHosts(w http.ResponseWriter, _ *http.Request) {
	o := s.o
	now := o.Now()
	l := o.Leadership()
	resp := api.HostsResponse{Readiness: o.Readiness(), Leader: &l}
	ix := s.dashIndex()
	reports := o.HostReports(now)
	if len(reports) > 0 {
		resp.Hosts = make([]api.HostView, 0, len(reports))
		resp.Cells = make(map[string][]api.Cell, len(reports))
	}
	for _, v := range reports {
		resp.Cells[v.Host] = cells(v.Host, v.Health, v.State == api.HostStale, now, ix)
		v.Health = nil
		resp.Hosts = append(resp.Hosts, v)
	}
	writeJSON(w, http.StatusOK, resp)
}

// handleHost is GET /api/v1/hosts/{host}: the host in detail, its cells
// with the build or pull behind each and why nothing is in flight.
func (s *Server) handleHost(w http.ResponseWriter, r *http.Request) {
	v, ok := s.o.Host(r.PathValue("host"))
	if !ok {
		writeError(w, http.StatusNotFound, errors.New("no such host"))
		return
	}
	d := api.HostDetail{HostView: v, Cells: []api.Cell{}}
	if v.Health != nil {
		d.Cells = cells(v.Host, v.Health, v.State == api.HostStale, s.o.Now(), s.dashIndex())
	}
	writeJSON(w, http.StatusOK, d)
}
