package main

import "testing"

func TestParseShare(t *testing.T) {
	for in, want := range map[string]float64{"90%": 0.9, "0.9": 0.9, "100%": 1, "0": 0, "75": 0.75} {
		if got, err := parseShare(in); err != nil || got != want {
			t.Errorf("Got(parseShare(%q)) = %v, %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "-5%", "150%", "1.5%x"} {
		if _, err := parseShare(in); err == nil {
			t.Errorf("Got(parseShare(%q)) = nil error, want one", in)
		}
	}
}
