package hostcmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/events"
)

// ErrNoNATS means a command was to be sent without a NATS connection.
var ErrNoNATS = errors.New("no NATS connection")

// Client sends commands to agents over NATS request/reply.
type Client struct {
	Conn     *nats.Conn // nil: every Send fails with ErrNoNATS
	Subjects events.Subjects
	Source   string // the commands' CloudEvent source
	Now      func() time.Time
}

// Command is one command to one host's agent.
type Command struct {
	Verb string // events.VerbPull, events.VerbPrune, ...
	Host string
	// Name is what errors call the command ("pull img-13 on mac-01: ..."):
	// the verb when empty.
	Name string
	// Req is the request payload (events.PullRequest, ...).
	Req any
	// Timeout bounds the wait for the reply (none when zero).
	Timeout time.Duration
}

// AgentError is a reply that is not OK: the agent's error and its code
// (events.CodeBusy, ...). Send returns the reply along with it.
type AgentError struct {
	Name, Host string
	Code, Msg  string
}

func (e *AgentError) Error() string {
	return fmt.Sprintf("%s on %s: %s (%s)", e.Name, e.Host, e.Msg, e.Code)
}

// Send encodes cmd.Req as the verb's command CloudEvent, requests it on the
// host's command subject and waits at most cmd.Timeout for the reply (a
// CloudEvent or the bare Reply JSON). A reply that is not OK comes back
// with an *AgentError.
func (c Client) Send(ctx context.Context, cmd Command) (events.Reply, error) {
	if c.Conn == nil {
		return events.Reply{}, ErrNoNATS
	}
	name := cmd.Name
	if name == "" {
		name = cmd.Verb
	}
	data, err := events.Encode(events.CommandType(cmd.Verb), c.Source, cmd.Host, "", c.Now(), cmd.Req)
	if err != nil {
		return events.Reply{}, err
	}
	if cmd.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cmd.Timeout)
		defer cancel()
	}
	msg, err := c.Conn.RequestWithContext(ctx, c.Subjects.Command(cmd.Host, cmd.Verb), data)
	if err != nil {
		return events.Reply{}, fmt.Errorf("%s on %s: %w", name, cmd.Host, err)
	}
	rep, err := decodeReply(msg.Data)
	if err != nil {
		return events.Reply{}, fmt.Errorf("%s on %s: bad reply: %w", name, cmd.Host, err)
	}
	if !rep.OK {
		return rep, &AgentError{Name: name, Host: cmd.Host, Code: rep.Code, Msg: rep.Error}
	}
	return rep, nil
}

// decodeReply reads an agent's reply: a CloudEvent, or the bare Reply JSON.
func decodeReply(b []byte) (events.Reply, error) { return events.DecodeEither[events.Reply](b, "") }
