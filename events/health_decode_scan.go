package events

import "time"

// scanner reads the strict subset of JSON that scanHealth accepts. Every
// method reports false on anything outside that subset; the bytes may still
// be valid JSON, which the caller then decodes with encoding/json.
type scanner struct {
	b []byte
	// str is b as one string: every string read is a substring of it, one
	// allocation per event instead of one per field (the state keeps the
	// event's ~1.2 KB alive, about what its strings would take).
	str0 string
	i    int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// object reads {"key": value, ...}; field is called for each key, with the
// scanner at the value, and must read the value.
func (s *scanner) object(field func(key []byte) bool) bool {
	s.ws()
	if !s.eat('{') {
		return false
	}
	s.ws()
	if s.eat('}') {
		return true
	}
	for {
		s.ws()
		key, ok := s.raw()
		if !ok {
			return false
		}
		s.ws()
		if !s.eat(':') {
			return false
		}
		s.ws()
		if !field(key) {
			return false
		}
		s.ws()
		if !s.eat(',') {
			return s.eat('}')
		}
	}
}

// array reads [value, ...]; elem is called for each value and must read it.
func (s *scanner) array(elem func() bool) bool {
	if !s.eat('[') {
		return false
	}
	s.ws()
	if s.eat(']') {
		return true
	}
	for {
		s.ws()
		if !elem() {
			return false
		}
		s.ws()
		if !s.eat(',') {
			return s.eat(']')
		}
	}
}

// raw reads a string of printable ASCII without escapes and returns its
// bytes between the quotes.
func (s *scanner) raw() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c < 0x20 || c == '\\' || c >= 0x80:
			return nil, false
		}
	}
	return nil, false
}

func (s *scanner) str() (string, bool) {
	r, ok := s.raw()
	if !ok {
		return "", false
	}
	end := s.i - 1 // the closing quote
	return s.str0[end-len(r) : end], true
}

// time reads a string as encoding/json does for a time.Time: by handing the
// quoted literal to UnmarshalJSON.
func (s *scanner) time() (time.Time, bool) {
	start := s.i
	var t time.Time
	if _, ok := s.raw(); !ok {
		return t, false
	}
	return t, t.UnmarshalJSON(s.b[start:s.i]) == nil
}

func (s *scanner) bool() (bool, bool) {
	for _, lit := range [...]string{"true", "false"} {
		if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
			s.i += len(lit)
			return lit == "true", true
		}
	}
	return false, false
}

// digits reads an integer literal: an optional minus sign when signed, then
// at most 19 digits without a leading zero, not followed by a fraction or
// an exponent. It returns the magnitude, which cannot overflow.
func (s *scanner) digits(signed bool) (n uint64, neg, ok bool) {
	if signed && s.eat('-') {
		neg = true
	}
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		n = n*10 + uint64(s.b[s.i]-'0')
		s.i++
		if s.i-start > 19 {
			return 0, false, false
		}
	}
	if s.i == start || (s.b[start] == '0' && s.i-start > 1) {
		return 0, false, false
	}
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case '.', 'e', 'E':
			return 0, false, false
		}
	}
	return n, neg, true
}

func (s *scanner) uint() (uint64, bool) {
	n, _, ok := s.digits(false)
	return n, ok
}

// int reads a signed integer that fits in bits bits.
func (s *scanner) int(bits int) (int64, bool) {
	n, neg, ok := s.digits(true)
	limit := uint64(1) << (bits - 1)
	switch {
	case !ok:
		return 0, false
	case neg && n <= limit:
		return -int64(n), true // -limit wraps to the minimum, as intended
	case !neg && n < limit:
		return int64(n), true
	}
	return 0, false
}
