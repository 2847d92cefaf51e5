package events

import (
	"encoding/json"
	"fmt"
	"strings"
)

// AgentSourcePrefix is the CloudEvents source of an agent's events:
// /vmfleet/agent/<host token>.
const AgentSourcePrefix = "/vmfleet/agent/"

// healthData is a health payload whose seq is told apart from a null one:
// the outer Seq takes the "seq" key.
type healthData struct {
	HostHealth
	Seq seqField `json:"seq"`
}

// seqField is a seq as sent: absent (0, as encoding/json leaves it), null,
// or a number.
type seqField struct {
	null bool
	v    uint64
}

func (s *seqField) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		s.null = true
		return nil
	}
	return json.Unmarshal(b, &s.v)
}

// health is the payload with its seq, or the error of a null seq.
func (d *healthData) health() (*HostHealth, error) {
	if d.Seq.null {
		return nil, fieldErr("seq", "null: want the event's sequence number in its boot (0 or more)")
	}
	d.HostHealth.Seq = d.Seq.v
	return &d.HostHealth, nil
}

// decodeData decodes a health payload: a null seq is refused, since
// ordering a host's events rests on it.
func (h *HostHealth) decodeData(raw json.RawMessage) error {
	var d healthData
	if err := json.Unmarshal(raw, &d); err != nil {
		return err
	}
	got, err := d.health()
	if err != nil {
		return err
	}
	*h = *got
	return nil
}

// checkEnvelope refuses a health event whose envelope names another host
// than its payload: subject <other>, or source /vmfleet/agent/<other>.
func (h *HostHealth) checkEnvelope(e Envelope) error {
	if e.Subject != "" && e.Subject != h.Host {
		return &FieldError{Field: "subject", Kind: ErrHostMismatch,
			Reason: fmt.Sprintf("%q names another host than the payload's %q", e.Subject, h.Host)}
	}
	if rest, ok := strings.CutPrefix(e.Source, AgentSourcePrefix); ok && rest != h.Host {
		return &FieldError{Field: "source", Kind: ErrHostMismatch,
			Reason: fmt.Sprintf("%q names another host than the payload's %q", e.Source, h.Host)}
	}
	return nil
}
