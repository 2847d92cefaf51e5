package agentd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/tart"
)

// maxCommands bounds commands served at once; more get a busy reply.
const maxCommands = 4

// commandSub is the subscription to <prefix>.cmd.<host>.*.
type commandSub struct {
	sub *nats.Subscription
	ch  chan *nats.Msg
}

func (a *Agent) subscribeCommands() (*commandSub, error) {
	c := &commandSub{ch: make(chan *nats.Msg, 64)}
	var err error
	if c.sub, err = a.nc.ChanSubscribe(a.subj.HostCommands(a.host), c.ch); err != nil {
		return nil, fmt.Errorf("subscribe to %s: %w", a.subj.HostCommands(a.host), err)
	}
	return c, nil
}

// serveCommands answers requests, each in its own goroutine (a pull may take
// an hour), all ended before it returns.
func (a *Agent) serveCommands(ctx context.Context, c *commandSub) error {
	defer func() { _ = c.sub.Unsubscribe() }()
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, maxCommands)
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-c.ch:
			select {
			case sem <- struct{}{}:
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					a.handle(ctx, m)
				}()
			default:
				a.respond(m, "", events.Reply{Code: events.CodeBusy, Error: fmt.Sprintf("agent is already serving %d commands: retry later", maxCommands)})
			}
		}
	}
}

// handle answers one command. It never panics on bad input: a malformed
// command gets a bad_request reply saying what is wrong.
func (a *Agent) handle(ctx context.Context, m *nats.Msg) {
	verb := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	r := a.dispatch(ctx, verb, m.Data)
	a.metrics.command(verb, r.Code)
	if !r.OK {
		a.log.Warn("command failed", "verb", verb, "code", r.Code, "err", r.Error)
	}
	a.respond(m, verb, r)
}

func (a *Agent) dispatch(ctx context.Context, verb string, data []byte) events.Reply {
	switch verb {
	case events.VerbCheck:
		if _, err := decodeRequest[events.CheckRequest](verb, data); err != nil {
			return errReply(err)
		}
		h, err := a.CheckAndPublish(ctx)
		return healthReply(h, err)
	case events.VerbForce:
		req, err := decodeRequest[events.ForceRequest](verb, data)
		if err != nil {
			return errReply(err)
		}
		if _, err := a.SetForced(req); err != nil {
			return errReply(err)
		}
		h, err := a.CheckAndPublish(ctx)
		return healthReply(h, err)
	case events.VerbPull:
		req, err := decodeRequest[events.PullRequest](verb, data)
		if err != nil {
			return errReply(err)
		}
		h, err := a.Pull(ctx, req)
		return healthReply(h, err)
	case events.VerbPrune:
		req, err := decodeRequest[events.PruneRequest](verb, data)
		if err != nil {
			return errReply(err)
		}
		out, h, err := a.Prune(ctx, req)
		r := healthReply(h, err)
		r.Prune = out
		return r
	}
	return events.Reply{Code: events.CodeBadRequest, Error: fmt.Sprintf("unknown command %q: want one of %s", verb, strings.Join(events.Verbs, ", "))}
}

// decodeRequest reads a command: a CloudEvent of type
// dev.vmfleet.cmd.<verb>.v1, or the bare request JSON, or (for requests
// without required fields, like check) nothing at all.
func decodeRequest[T any, PT interface {
	*T
	events.Validator
}](verb string, data []byte) (T, error) {
	var v T
	trimmed := strings.TrimSpace(string(data))
	if trimmed == "" {
		return v, PT(&v).Validate()
	}
	return events.DecodeEither[T, PT]([]byte(trimmed), events.CommandType(verb))
}

func healthReply(h events.HostHealth, err error) events.Reply {
	if err != nil {
		r := errReply(err)
		if h.Host != "" {
			r.Health = &h
		}
		return r
	}
	return events.Reply{OK: true, Health: &h}
}

// errReply classifies err into a reply code.
func errReply(err error) events.Reply {
	var te *tart.Error
	code := events.CodeInternal
	switch {
	case errors.Is(err, events.ErrInvalid), errors.Is(err, ErrNotOurs), errors.Is(err, events.ErrTooLarge):
		code = events.CodeBadRequest
	case errors.As(err, &te):
		code = events.CodeTartError
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, ErrLockBusy):
		code = events.CodeBusy
	case errors.Is(err, ErrNoSpace):
		code = events.CodeNoSpace
	}
	return events.Reply{Code: code, Error: err.Error()}
}

// respond sends the reply as a CloudEvent of type events.TypeReply, if the
// requester asked for one.
func (a *Agent) respond(m *nats.Msg, verb string, r events.Reply) {
	if m.Reply == "" {
		a.log.Debug("command without reply subject", "subject", m.Subject)
		return
	}
	r.At = a.now().UTC()
	data, err := events.Encode(events.TypeReply, a.source, a.host, "", r.At, r)
	if err == nil {
		err = m.Respond(data)
	}
	if err != nil {
		a.log.Warn("cannot reply to command", "verb", verb, "err", err)
	}
}
