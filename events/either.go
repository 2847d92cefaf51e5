package events

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// DecodeEither reads a payload of type T sent either as a CloudEvent (of
// type wantType, any type when wantType is "") or as the bare payload JSON,
// and validates it. A document with a "specversion" attribute is an
// envelope and must be a valid one; anything else is the bare payload.
// Errors wrap ErrInvalid or ErrTooLarge; it never panics.
func DecodeEither[T any, PT interface {
	*T
	Validator
}](b []byte, wantType string) (T, error) {
	var v T
	if len(b) > MaxEventBytes {
		return v, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), MaxEventBytes)
	}
	trimmed := bytes.TrimSpace(b)
	var probe struct {
		SpecVersion string `json:"specversion"`
	}
	if err := json.Unmarshal(trimmed, &probe); err != nil {
		if json.Valid(trimmed) {
			return v, fieldErr("data", fmt.Sprintf("want a JSON object, got %.32s", trimmed))
		}
		return v, fieldErr("data", "not JSON: "+err.Error())
	}
	if probe.SpecVersion != "" {
		env, err := Decode(trimmed)
		if err != nil {
			return v, err
		}
		return DecodeData[T, PT](env, wantType)
	}
	if err := json.Unmarshal(trimmed, &v); err != nil {
		return v, fieldErr("data", err.Error())
	}
	return v, PT(&v).Validate()
}
