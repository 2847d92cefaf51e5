package agentd

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// inventory500 is a busy host: 500 VMs, a third ours with assorted versions,
// a third OCI cache entries, a third foreign.
func inventory500() []events.VM {
	vms := make([]events.VM, 0, 500)
	for i := range 500 {
		v := events.VM{Source: "local", State: events.VMStopped, DiskGB: 50, SizeGB: 20, Accessed: time.Unix(int64(1_700_000_000+i), 0).UTC()}
		switch i % 3 {
		case 0:
			v.Name = name(fmt.Sprint(10+i%6), fmt.Sprintf("1.2.%d", i%40), fmt.Sprintf("3.%d", i%7))
			v.Name += fmt.Sprintf("-%d", i) // unique; some still parse-fail like temp names
		case 1:
			v.Name, v.Source = fmt.Sprintf("ghcr.io/acme/image-%d:latest", i), "oci"
		default:
			v.Name = fmt.Sprintf("ci-job-%d", i)
			if i%10 == 0 {
				v.State = events.VMRunning
			}
		}
		vms = append(vms, v)
	}
	vms = append(vms, local(name("14", "1.2.16", "3.6")))
	return vms
}

// BenchmarkCheck500 is one full check (tart list through the in-memory fake,
// evaluation of 3 releases, disk statfs, last-check file write) on a host
// with 500 VMs.
func BenchmarkCheck500(b *testing.B) {
	f := tarttest.NewFake("")
	f.Add(inventory500()...)
	cfg := testConfig(b)
	cfg.Images.Releases = []string{"13", "14", "15"}
	a, err := New(cfg, f)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Check(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluate500 is the readiness evaluation alone over 500 VMs.
func BenchmarkEvaluate500(b *testing.B) {
	vms := inventory500()
	spec := testSpec()
	spec.Releases = []string{"13", "14", "15"}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		evaluate(spec, vms, nil, nil, now)
	}
}
