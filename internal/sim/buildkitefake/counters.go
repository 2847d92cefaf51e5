package buildkitefake

import "maps"

// RequestKey identifies a counted request: method, route (a Route constant,
// or "" when no route matched) and the status answered.
type RequestKey struct {
	Method string
	Route  string
	Status int
}

func (s *Server) countRequest(method, route string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[RequestKey{Method: method, Route: route, Status: status}]++
}

// Requests returns a copy of every request count so far.
func (s *Server) Requests() map[RequestKey]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.requests)
}

// RequestCount sums requests matching method, route and status; an empty
// method or route, or a zero status, matches any.
func (s *Server) RequestCount(method, route string, status int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, c := range s.requests {
		if (method == "" || k.Method == method) && (route == "" || k.Route == route) && (status == 0 || k.Status == status) {
			n += c
		}
	}
	return n
}

// CreatedCount is how many builds were created with meta-data vmfleet-key = key.
func (s *Server) CreatedCount(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created[key]
}

// LiveCount is how many builds with vmfleet-key = key are not finished now
// (scheduled, running or canceling).
func (s *Server) LiveCount(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live[key]
}

// MaxLiveCount is the most builds with vmfleet-key = key ever live at once:
// the orchestrator's invariant is that it never exceeds 1.
func (s *Server) MaxLiveCount(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxLive[key]
}

// trackCreatedLocked counts a new (live) build. Caller holds s.mu.
func (s *Server) trackCreatedLocked(b *Build) {
	k := b.Key()
	s.created[k]++
	s.live[k]++
	s.maxLive[k] = max(s.maxLive[k], s.live[k])
}

// trackFinishedLocked counts a build leaving the live states. Caller holds s.mu.
func (s *Server) trackFinishedLocked(b *Build) {
	s.live[b.Key()]--
}
