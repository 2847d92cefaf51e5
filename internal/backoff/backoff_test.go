package backoff

import "testing"

func TestExponential(t *testing.T) {
	tests := []struct {
		attempt int
		want    string
	}{{1, "1m0s"}, {2, "2m0s"}, {3, "4m0s"}, {6, "32m0s"}, {7, "1h0m0s"}, {30, "1h0m0s"}}
	for _, tt := range tests {
		if got := Exponential(60e9, 3600e9, tt.attempt).String(); got != tt.want {
			t.Errorf("Got(Exponential(1m, 1h, %d)) = %s, want %s", tt.attempt, got, tt.want)
		}
	}
}
