package buildkitefake

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Fault is an injected failure for the next Count matching requests.
type Fault struct {
	// Method and Route (one of the Route constants) select requests; empty matches any.
	Method string
	Route  string
	// Status, if non-zero, is answered instead of the real response: 429 carries
	// RateLimit-Remaining: 0 and RateLimit-Reset; 5xx carry a proxy-like body.
	Status int
	// Reset is the RateLimit-Reset a 429 announces. Default: the rest of the window.
	Reset time.Duration
	// Latency delays the request (before Status, or before the real response).
	// It ends early if the client gives up or the server closes.
	Latency time.Duration
	// Count is how many requests the fault affects. Default: 1.
	Count int
}

// AddFault queues f; faults apply first-in first-out, each to Count requests.
func (s *Server) AddFault(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// FailNext answers the next n requests, whatever they are, with status.
func (s *Server) FailNext(n int, status int) {
	s.AddFault(Fault{Status: status, Count: n})
}

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (s *Server) takeFault(method, route string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if (f.Method != "" && f.Method != method) || (f.Route != "" && f.Route != route) {
			continue
		}
		f.Count--
		if f.Count == 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return *f, true
	}
	return Fault{}, false
}

// applyFault delays and/or answers per f; it reports whether the request
// should go on to the real handler.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f Fault, windowReset time.Duration) bool {
	if f.Latency > 0 && !s.sleepCtx(r.Context(), f.Latency) {
		writeMessage(w, http.StatusServiceUnavailable, "request abandoned")
		return false
	}
	switch {
	case f.Status == 0:
		return true
	case f.Status == http.StatusTooManyRequests:
		reset := f.Reset
		if reset <= 0 {
			reset = windowReset
		}
		s.writeRateLimited(w, reset)
	case f.Status >= 500:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.Status)
		_, _ = fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>\n", f.Status, http.StatusText(f.Status))
	default:
		writeMessage(w, f.Status, http.StatusText(f.Status))
	}
	return false
}

func (s *Server) writeRateLimited(w http.ResponseWriter, reset time.Duration) {
	secs := ceilSeconds(reset)
	h := w.Header()
	h.Set("RateLimit-Remaining", "0")
	h.Set("RateLimit-Reset", strconv.Itoa(secs))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{
		"message": fmt.Sprintf("You have exceeded your API rate limit. Please wait %d seconds before making more requests.", secs),
		"scope":   "rest",
		"limit":   s.cfg.rateLimit,
		"reset":   secs,
	})
}

// rateWindow counts requests in the current fixed window.
type rateWindow struct {
	start time.Time
	count int
}

// rateHeaders counts this request, sets RateLimit-* headers, and reports
// whether it exceeds an enforced limit, with the time left in the window.
func (s *Server) rateHeaders(h http.Header) (limited bool, reset time.Duration) {
	s.mu.Lock()
	now := s.cfg.now()
	if s.rate.start.IsZero() || !now.Before(s.rate.start.Add(s.cfg.rateWindow)) {
		s.rate = rateWindow{start: now}
	}
	s.rate.count++
	count := s.rate.count
	reset = s.rate.start.Add(s.cfg.rateWindow).Sub(now)
	s.mu.Unlock()

	remaining := max(0, s.cfg.rateLimit-count)
	h.Set("RateLimit-Scope", "rest")
	h.Set("RateLimit-Limit", strconv.Itoa(s.cfg.rateLimit))
	h.Set("RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(reset)))
	return s.cfg.enforce && count > s.cfg.rateLimit, reset
}

func ceilSeconds(d time.Duration) int {
	return int(math.Ceil(d.Seconds()))
}
