package ratelog

import (
	"testing"
	"time"
)

func TestRejectLogOncePerSourcePerMinute(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var l Limiter
	for _, step := range []struct {
		source string
		at     time.Duration
		want   bool
	}{{"a", 0, true}, {"a", 30 * time.Second, false}, {"b", 31 * time.Second, true}, {"a", 61 * time.Second, true}} {
		if got := l.Allow(step.source, t0.Add(step.at)); got != step.want {
			t.Errorf("Got(allow(%s, +%v)) = %v, want %v", step.source, step.at, got, step.want)
		}
	}
}
