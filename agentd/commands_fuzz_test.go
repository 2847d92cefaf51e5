package agentd

import (
	"errors"
	"testing"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// FuzzDecodeRequest: any command payload on any verb decodes to a request
// that validates, or to an error the agent answers bad_request — never a
// panic, never an internal error.
func FuzzDecodeRequest(f *testing.F) {
	prune, _ := events.Encode(events.CommandType(events.VerbPrune), "/test", "mac-01", "", time.Unix(0, 0),
		events.PruneRequest{VMs: []string{"bun-build-macos-14-1.2.16-bootstrap-3.5"}, DryRun: true})
	for _, s := range []string{"", "{}", "null", "[]", `{"vms":["a"]}`, `{"source":"ghcr.io/a/b:1","name":"x"}`,
		`{"state":"ready","ttl":"1h"}`, `{"specversion":"1.0","id":"x","source":"s","type":"dev.vmfleet.cmd.pull.v1","data":{}}`, string(prune)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(verb string, err error, valid func() error) {
			if err != nil {
				if r := errReply(err); r.Code != events.CodeBadRequest {
					t.Fatalf("Got(%s reply code) = %q for %v, want bad_request", verb, r.Code, err)
				}
				if !errors.Is(err, events.ErrInvalid) && !errors.Is(err, events.ErrTooLarge) {
					t.Fatalf("Got(%s error) = %v, want ErrInvalid or ErrTooLarge", verb, err)
				}
				return
			}
			if err := valid(); err != nil {
				t.Fatalf("Got(%s decoded but invalid) = %v from %q", verb, err, b)
			}
		}
		c, err := decodeRequest[events.CheckRequest](events.VerbCheck, b)
		check(events.VerbCheck, err, c.Validate)
		p, err := decodeRequest[events.PruneRequest](events.VerbPrune, b)
		check(events.VerbPrune, err, p.Validate)
		u, err := decodeRequest[events.PullRequest](events.VerbPull, b)
		check(events.VerbPull, err, u.Validate)
		fr, err := decodeRequest[events.ForceRequest](events.VerbForce, b)
		check(events.VerbForce, err, fr.Validate)
	})
}
