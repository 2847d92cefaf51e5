package e2e

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// metric sums the samples of a Prometheus metric whose label set contains
// every label given as "name=value" (from the orchestrator's /metrics).
func (o *orchProc) metric(name string, labels ...string) float64 {
	c, ctx, cancel := o.api()
	defer cancel()
	text, err := c.Metrics(ctx)
	if err != nil {
		return -1
	}
	sum := 0.0
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		ok := true
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			if !strings.Contains(rest, k+`="`+v+`"`) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// fullPasses is how many full reconcile passes o has made.
func (o *orchProc) fullPasses() float64 {
	return o.metric("vmfleet_orchestrator_reconcile_duration_seconds_count", "kind=full")
}
