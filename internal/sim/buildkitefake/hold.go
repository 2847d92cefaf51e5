package buildkitefake

import "time"

// Hold keeps a running build of org/pipeline from finishing before until:
// Tick and Advance finish it at the later of its due time and until (a
// build that hangs, then ends). Step ignores holds.
func (s *Server) Hold(org, pipeline string, number int, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holds == nil {
		s.holds = map[string]time.Time{}
	}
	s.holds[buildKey(Build{Org: org, Pipeline: pipeline, Number: number})] = until
}

// dueLocked is when a running build b finishes: due, or later if held.
// Caller holds s.mu.
func (s *Server) dueLocked(b *Build, due time.Time) time.Time {
	if until, ok := s.holds[buildKey(*b)]; ok && until.After(due) {
		return until
	}
	return due
}
