package web

import (
	"errors"
	"net/http"
	"time"
)

// handleEvents is GET /api/v1/events: a text/event-stream of a snapshot,
// then deltas, with a comment line every heartbeat so proxies keep the
// stream open and the client notices a dead server. It ends when the client
// goes away, when the hub drops the client, or when the orchestrator stops.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	if err := rc.Flush(); errors.Is(err, http.ErrNotSupported) {
		writeError(w, http.StatusInternalServerError, errors.New("streaming not supported"))
		return
	}
	c := s.hub.subscribe()
	defer s.hub.unsubscribe(c)
	write := func(b []byte) bool {
		// The server's WriteTimeout would end the stream: each write gets
		// its own deadline instead.
		_ = rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// retry: how long a browser waits before reconnecting.
	if !write([]byte("retry: 2000\n\n")) {
		return
	}
	hb := time.NewTicker(s.hub.heartbeat)
	defer hb.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.gone:
			// Dropped or shutting down: deliver what is queued, then end.
			for {
				select {
				case msg := <-c.ch:
					if !write(msg) {
						return
					}
				default:
					return
				}
			}
		case msg := <-c.ch:
			if !write(msg) {
				return
			}
		case <-hb.C:
			if !write([]byte(": heartbeat\n\n")) {
				return
			}
		}
	}
}
