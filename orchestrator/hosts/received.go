package hosts

// Received is how many health events the fleet has received
// (vmfleet_orchestrator_events_received_total): an atomic load.
func (f *Fleet) Received() uint64 { return f.received.Load() }
