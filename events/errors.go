package events

import "errors"

// ErrInvalid is wrapped by every validation error in this package, so callers can
// tell bad input (drop and count it) from other failures with errors.Is.
var ErrInvalid = errors.New("invalid")

// ErrTooLarge is returned by Decode when an encoded event exceeds MaxEventBytes.
var ErrTooLarge = errors.New("event too large")

// ErrHostMismatch is wrapped by the error of a host's event whose envelope
// names another host than its payload (source /vmfleet/agent/<other>, or
// subject <other>): the host speaks for someone else.
var ErrHostMismatch = errors.New("envelope names another host")

// FieldError names the field at fault, so an operator can fix the exact key.
type FieldError struct {
	Field  string
	Reason string
	// Kind, if set, is a sentinel the error also matches (ErrHostMismatch).
	Kind error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes every FieldError match ErrInvalid, and its Kind if set.
func (e *FieldError) Unwrap() []error {
	if e.Kind != nil {
		return []error{ErrInvalid, e.Kind}
	}
	return []error{ErrInvalid}
}

func fieldErr(field, reason string) error { return &FieldError{Field: field, Reason: reason} }
