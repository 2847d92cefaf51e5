package orchestrator

// EventsReceived is how many health events the orchestrator has received
// (vmfleet_orchestrator_events_received_total): an atomic load, cheap
// enough to poll (the ingest benchmark's flow control does), unlike
// gathering the metrics registry.
func (o *Orchestrator) EventsReceived() uint64 { return o.fleet.Received() }
