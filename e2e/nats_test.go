package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// freePort returns a loopback port free at the time of asking.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// natsNode is one nats-server process with JetStream and a file store that
// outlives it (restart keeps it).
type natsNode struct {
	t           *testing.T
	name        string
	port, cport int
	dir         string
	routes      []string
	conf        string // a config file, if any
	p           *proc
}

// startNATS starts a lone nats-server.
func startNATS(t *testing.T) *natsNode {
	t.Helper()
	n := &natsNode{t: t, name: "nats", port: freePort(t), dir: t.TempDir()}
	n.start()
	n.waitJetStream(20 * time.Second)
	return n
}

// startNATSConf starts a lone nats-server with a config file holding conf
// (e.g. "max_payload: 2MB").
func startNATSConf(t *testing.T, conf string) *natsNode {
	t.Helper()
	n := &natsNode{t: t, name: "nats", port: freePort(t), dir: t.TempDir()}
	n.conf = filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(n.conf, []byte(conf+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n.start()
	n.waitJetStream(20 * time.Second)
	return n
}

// startCluster starts three nats-server processes routed to one another.
func startCluster(t *testing.T) []*natsNode {
	t.Helper()
	nodes := make([]*natsNode, 3)
	var routes []string
	for i := range nodes {
		nodes[i] = &natsNode{t: t, name: fmt.Sprintf("nats-%d", i), port: freePort(t), cport: freePort(t), dir: t.TempDir()}
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", nodes[i].cport))
	}
	for _, n := range nodes {
		n.routes = routes
		n.start()
	}
	for _, n := range nodes {
		n.waitJetStream(60 * time.Second)
	}
	return nodes
}

func (n *natsNode) url() string { return "nats://127.0.0.1:" + strconv.Itoa(n.port) }

func (n *natsNode) start() {
	natsBin, _, _ := binaries(n.t)
	var args []string
	if n.conf != "" {
		args = append(args, "-c", n.conf)
	}
	args = append(args, "-a", "127.0.0.1", "-p", strconv.Itoa(n.port), "-js", "-sd", n.dir, "--server_name", n.name)
	if n.cport != 0 {
		args = append(args, "--cluster_name", "vmfleet", "--cluster", fmt.Sprintf("nats://127.0.0.1:%d", n.cport),
			"--routes", strings.Join(n.routes, ","))
	}
	n.p = startProc(n.t, n.name, natsBin, args, nil)
}

// waitJetStream waits until a client gets JetStream account info (a
// cluster has elected its meta leader).
func (n *natsNode) waitJetStream(within time.Duration) {
	n.t.Helper()
	waitFor(n.t, n.name+" JetStream", within, func() bool {
		nc, err := nats.Connect(n.url(), nats.Timeout(time.Second))
		if err != nil {
			return false
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err = js.AccountInfo(ctx)
		return err == nil
	})
}

// restart stops the server (SIGTERM, as an operator's restart) and starts it
// again on the same port and store.
func (n *natsNode) restart() {
	n.t.Helper()
	n.p.signal(syscall.SIGTERM)
	if _, ok := n.p.wait(15 * time.Second); !ok {
		n.p.kill9()
	}
	n.start()
}

// conn connects the test itself to the given servers, closed at the end.
func natsConn(t *testing.T, urls ...string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(strings.Join(urls, ","), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}
