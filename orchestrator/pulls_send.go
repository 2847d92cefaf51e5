package orchestrator

import (
	"context"

	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator/hostcmd"
)

// pullCheck names the check an agent made right after a pull, as its reply
// reports it: the host's boot id and that check's sequence number. Zero when
// the reply carried no health.
type pullCheck struct {
	boot string
	seq  uint64
}

// commands is the client every host command goes out with.
func (o *Orchestrator) commands() hostcmd.Client {
	return hostcmd.Client{Conn: o.nc, Subjects: o.subj, Source: o.opts.source, Now: o.now}
}

// sendPull sends a pull command to a host and waits for its reply. On success
// it returns the check the agent made right after pulling.
func (o *Orchestrator) sendPull(ctx context.Context, host string, req events.PullRequest) (pullCheck, error) {
	rep, err := o.commands().Send(ctx, hostcmd.Command{Verb: events.VerbPull, Host: host, Name: "pull " + req.Name,
		Req: req, Timeout: o.cfg.PullTimeout})
	if err != nil {
		return pullCheck{}, err
	}
	var after pullCheck
	if rep.Health != nil {
		after = pullCheck{boot: rep.Health.BootID, seq: rep.Health.Seq}
	}
	return after, nil
}
