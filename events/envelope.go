package events

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MaxEventBytes bounds an encoded event; larger ones are rejected before parsing.
// A health event for a host with a few hundred VMs stays far below it.
const MaxEventBytes = 1 << 20

// SpecVersion is the CloudEvents version vmfleet speaks.
const SpecVersion = "1.0"

// CloudEvents types of vmfleet's payloads.
const (
	TypeHostHealth = "dev.vmfleet.host.health.v1"
	TypeBuild      = "dev.vmfleet.build.v1"
	TypePrune      = "dev.vmfleet.prune.v1"
	TypeReadiness  = "dev.vmfleet.fleet.readiness.v1"
	TypeReply      = "dev.vmfleet.cmd.reply.v1"
	TypeSpec       = "dev.vmfleet.spec.v1"
)

// CommandType is the CloudEvents type of a command with the given verb.
func CommandType(verb string) string { return "dev.vmfleet.cmd." + verb + ".v1" }

// Envelope is a CloudEvents 1.0 event in structured JSON mode. Data holds the
// payload as raw JSON; unknown attributes are ignored.
type Envelope struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Time            time.Time       `json:"time"`
	Subject         string          `json:"subject,omitempty"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	Data            json.RawMessage `json:"data"`
}

// NewID returns a random event id.
func NewID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Encode wraps data in an envelope and marshals it. id may be empty (a random
// one is made); t is the event time.
func Encode(typ, source, subject, id string, t time.Time, data any) ([]byte, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encode %s data: %w", typ, err)
	}
	if id == "" {
		id = NewID()
	}
	env := Envelope{
		SpecVersion: SpecVersion, ID: id, Source: source, Type: typ,
		Time: t.UTC(), Subject: subject, DataContentType: "application/json", Data: raw,
	}
	out, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("encode %s envelope: %w", typ, err)
	}
	return out, nil
}

// Decode parses and validates an envelope. Any byte string gives an envelope or
// an error wrapping ErrInvalid or ErrTooLarge; it never panics.
func Decode(b []byte) (Envelope, error) {
	if len(b) > MaxEventBytes {
		return Envelope{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), MaxEventBytes)
	}
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return Envelope{}, &FieldError{Field: "envelope", Reason: "not a JSON CloudEvent: " + err.Error()}
	}
	if err := env.Validate(); err != nil {
		return Envelope{}, err
	}
	return env, nil
}

// Validate checks the required CloudEvents attributes.
func (e Envelope) Validate() error {
	switch {
	case e.SpecVersion != SpecVersion:
		return fieldErr("specversion", fmt.Sprintf("%q, want %q", e.SpecVersion, SpecVersion))
	case e.ID == "":
		return fieldErr("id", "missing")
	case e.Source == "":
		return fieldErr("source", "missing")
	case e.Type == "":
		return fieldErr("type", "missing")
	case !JSONContentType(e.DataContentType):
		return fieldErr("datacontenttype", fmt.Sprintf("%q is not JSON: want application/json (or leave it out)", e.DataContentType))
	case len(bytes.TrimSpace(e.Data)) == 0 || bytes.Equal(bytes.TrimSpace(e.Data), []byte("null")):
		return fieldErr("data", "missing")
	}
	return nil
}

// JSONContentType reports whether a CloudEvent's datacontenttype says its
// data is JSON, the only encoding vmfleet reads: absent (CloudEvents then
// means application/json), application/json or text/json, or a +json type
// such as application/cloudevents+json, with any parameters
// ("application/json; charset=utf-8").
func JSONContentType(ct string) bool {
	if ct == "" {
		return true
	}
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || mt == "text/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// Validator is implemented by every payload type.
type Validator interface{ Validate() error }

// DecodeData unmarshals the envelope's data into a payload of type T, after
// checking the envelope type, and validates it.
func DecodeData[T any, PT interface {
	*T
	Validator
}](e Envelope, wantType string) (T, error) {
	var v T
	if wantType != "" && e.Type != wantType {
		return v, fieldErr("type", fmt.Sprintf("%q, want %q", e.Type, wantType))
	}
	var err error
	if d, ok := any(&v).(dataDecoder); ok {
		err = d.decodeData(e.Data)
	} else {
		err = json.Unmarshal(e.Data, &v)
	}
	if fe := (*FieldError)(nil); errors.As(err, &fe) {
		return v, fe
	} else if err != nil {
		return v, &FieldError{Field: "data", Reason: err.Error()}
	}
	if err := PT(&v).Validate(); err != nil {
		return v, err
	}
	if c, ok := any(&v).(envelopeChecker); ok {
		if err := c.checkEnvelope(e); err != nil {
			return v, err
		}
	}
	return v, nil
}

// envelopeChecker is a payload with rules that tie it to its envelope
// (HostHealth: the envelope names no other host).
type envelopeChecker interface{ checkEnvelope(Envelope) error }

// dataDecoder is a payload that decodes its own data, to tell a field
// that is null or missing from its zero value (HostHealth's seq); a
// *FieldError it returns is the event's error as is.
type dataDecoder interface{ decodeData(json.RawMessage) error }
