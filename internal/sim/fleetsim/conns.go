package fleetsim

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmfleet/vmfleet/internal/bus"
)

// fdReserve is what the process keeps of its file descriptor limit for
// everything but the agents' connections: the orchestrators, the
// simulation's own connections, the nats-server's store, HTTP.
const fdReserve = 1024

// fdsPerConn: an agent connection to the embedded nats-server is two file
// descriptors of this process, the client's end and the server's.
const fdsPerConn = 2

// agentsPerConn is how many agents share one NATS connection: the
// configured number, or (0) one each while the file descriptor limit
// allows, else the fewest that fit. A real agent has a connection of its
// own; sharing changes nothing the orchestrator sees (subjects, events and
// commands are per host) and makes 10,000 simulated hosts fit in one
// process. Chaos cuts one host's network, so it needs one each.
func (c Config) agentsPerConn(fdLimit int) (int, error) {
	if c.AgentsPerConn > 0 {
		return c.AgentsPerConn, nil
	}
	room := fdLimit - fdReserve
	if c.Hosts*fdsPerConn <= room {
		return 1, nil
	}
	if c.Chaos.On {
		return 0, fmt.Errorf("%w: %d hosts with chaos need a NATS connection each, about %d file descriptors; this process may open %d: raise its limit (ulimit -n) or run fewer hosts",
			ErrInvalidConfig, c.Hosts, c.Hosts*fdsPerConn+fdReserve, fdLimit)
	}
	if room < fdsPerConn {
		return 0, fmt.Errorf("%w: the file descriptor limit (%d) leaves no room for the agents' connections: raise it (ulimit -n)", ErrInvalidConfig, fdLimit)
	}
	return ceilDiv(c.Hosts, room/fdsPerConn), nil
}

// agentConn is a NATS connection used by one agent or shared by several;
// the last agent to release it closes it.
type agentConn struct {
	nc    *nats.Conn
	users atomic.Int32
}

func (c *agentConn) release() {
	if c.users.Add(-1) == 0 {
		c.nc.Close()
	}
}

// agentConnFor is the connection h's agent (the i-th host) runs on: its
// own (connectAgent), or the shared one of its group of s.perConn hosts.
func (s *Sim) agentConnFor(i int, h *simHost, natsURL string, log *slog.Logger) (*agentConn, error) {
	if s.perConn <= 1 {
		return s.ownAgentConn(h, natsURL, log)
	}
	k := i / s.perConn
	if s.shared[k] == nil {
		last := s.hosts[min(len(s.hosts), (k+1)*s.perConn)-1].name
		nc, err := bus.Connect(bus.ConnConfig{URLs: []string{natsURL}, Name: fmt.Sprintf("vmfleet-agents %s..%s", h.name, last), ReconnectWait: 100 * time.Millisecond}, log)
		if err != nil {
			return nil, err
		}
		s.shared[k] = &agentConn{nc: nc}
	}
	s.shared[k].users.Add(1)
	return s.shared[k], nil
}

// ownAgentConn is a connection of h's agent's own (connectAgent).
func (s *Sim) ownAgentConn(h *simHost, natsURL string, log *slog.Logger) (*agentConn, error) {
	nc, err := s.connectAgent(h, natsURL, log)
	if err != nil {
		return nil, err
	}
	c := &agentConn{nc: nc}
	c.users.Store(1)
	return c, nil
}
