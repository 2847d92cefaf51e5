package queuepos

import (
	"slices"
	"testing"
	"time"
)

func TestNumberOldestFirstThenByKey(t *testing.T) {
	t0 := time.Unix(1000, 0)
	since := map[string]time.Time{"c": t0, "a": t0.Add(time.Second), "b": t0}
	got := map[string][2]int{}
	keys := []string{"a", "b", "c"}
	Number(keys, func(k string) time.Time { return since[k] }, func(k string, p, of int) { got[k] = [2]int{p, of} })
	if want := []string{"b", "c", "a"}; !slices.Equal(keys, want) {
		t.Errorf("Got(order) = %v, want %v", keys, want)
	}
	if got["b"] != [2]int{1, 3} || got["c"] != [2]int{2, 3} || got["a"] != [2]int{3, 3} {
		t.Errorf("Got(positions) = %v, want b 1/3, c 2/3, a 3/3", got)
	}
}
