package agentd

import (
	"sync"

	"github.com/nats-io/nats.go"
)

// reconnectHooks lets several agents share one NATS connection (WithConn
// given the same connection, as a simulated fleet does): the connection has
// one reconnect callback, which calls every agent's hook and the callback
// set before the first agent came.
var reconnectHooks = struct {
	sync.Mutex
	byConn map[*nats.Conn]*reconnectFanout
}{byConn: map[*nats.Conn]*reconnectFanout{}}

// reconnectFanout is one connection's reconnect callback.
type reconnectFanout struct {
	prev  nats.ConnHandler
	hooks map[*Agent]func()
}

// addReconnectHook makes nc call hook after every reconnect, until the
// returned function is called.
func addReconnectHook(nc *nats.Conn, a *Agent, hook func()) (remove func()) {
	reconnectHooks.Lock()
	defer reconnectHooks.Unlock()
	f := reconnectHooks.byConn[nc]
	if f == nil {
		f = &reconnectFanout{prev: nc.Opts.ReconnectedCB, hooks: map[*Agent]func(){}}
		reconnectHooks.byConn[nc] = f
		nc.SetReconnectHandler(f.call)
	}
	f.hooks[a] = hook
	return func() {
		reconnectHooks.Lock()
		defer reconnectHooks.Unlock()
		delete(f.hooks, a)
		if len(f.hooks) == 0 && reconnectHooks.byConn[nc] == f {
			// The callback stays on the connection, calling prev; the next
			// agent on it chains onto it.
			delete(reconnectHooks.byConn, nc)
		}
	}
}

// call is the connection's reconnect callback.
func (f *reconnectFanout) call(c *nats.Conn) {
	if f.prev != nil {
		f.prev(c)
	}
	reconnectHooks.Lock()
	hooks := make([]func(), 0, len(f.hooks))
	for _, h := range f.hooks {
		hooks = append(hooks, h)
	}
	reconnectHooks.Unlock()
	for _, h := range hooks {
		h()
	}
}
