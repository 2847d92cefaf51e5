package events

import "unsafe"

// DecodeHealthOwned is DecodeHealth for a buffer the caller hands over:
// the strings of the result may share b's memory instead of a copy of it,
// so b must never be written again (a NATS message's data, made afresh for
// each message, qualifies). It saves copying every event, the largest
// allocation of the orchestrator's ingest.
func DecodeHealthOwned(b []byte) (*HostHealth, string, error) {
	return decodeHealth(b, scanHealthOwned)
}

// scanHealthOwned is scanHealth whose strings are substrings of b itself.
func scanHealthOwned(b []byte) (Envelope, *HostHealth, bool) {
	return scanHealthIn(b, unsafe.String(unsafe.SliceData(b), len(b)))
}
