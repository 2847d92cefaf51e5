package orchestrator

import (
	"context"
	"fmt"

	"github.com/vmfleet/vmfleet/events"
)

// pullCheck names the check an agent made right after a pull, as its reply
// reports it: the host's boot id and that check's sequence number. Zero when
// the reply carried no health.
type pullCheck struct {
	boot string
	seq  uint64
}

// sendPull sends a pull command to a host and waits for its reply. On success
// it returns the check the agent made right after pulling.
func (o *Orchestrator) sendPull(ctx context.Context, host string, req events.PullRequest) (pullCheck, error) {
	if o.nc == nil {
		return pullCheck{}, ErrNoNATS
	}
	data, err := events.Encode(events.CommandType(events.VerbPull), o.opts.source, host, "", o.now(), req)
	if err != nil {
		return pullCheck{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.cfg.PullTimeout)
	defer cancel()
	msg, err := o.nc.RequestWithContext(ctx, o.subj.Command(host, events.VerbPull), data)
	if err != nil {
		return pullCheck{}, fmt.Errorf("pull %s on %s: %w", req.Name, host, err)
	}
	rep, err := decodeReply(msg.Data)
	if err != nil {
		return pullCheck{}, fmt.Errorf("pull %s on %s: bad reply: %w", req.Name, host, err)
	}
	if !rep.OK {
		return pullCheck{}, fmt.Errorf("pull %s on %s: %s (%s)", req.Name, host, rep.Error, rep.Code)
	}
	var after pullCheck
	if rep.Health != nil {
		after = pullCheck{boot: rep.Health.BootID, seq: rep.Health.Seq}
	}
	return after, nil
}
