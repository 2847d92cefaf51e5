package events

import "errors"

// ErrInvalid is wrapped by every validation error in this package, so callers can
// tell bad input (drop and count it) from other failures with errors.Is.
var ErrInvalid = errors.New("invalid")

// ErrTooLarge is returned by Decode when an encoded event exceeds MaxEventBytes.
var ErrTooLarge = errors.New("event too large")

// FieldError names the field at fault, so an operator can fix the exact key.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes every FieldError match ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func fieldErr(field, reason string) error { return &FieldError{Field: field, Reason: reason} }
