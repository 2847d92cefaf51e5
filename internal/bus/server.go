package bus

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ErrServerNotReady means the embedded server did not accept connections in time.
var ErrServerNotReady = errors.New("embedded nats-server not ready")

// ServerConfig configures the embedded nats-server.
type ServerConfig struct {
	// Listen is host:port for clients; port -1 picks a free one. Default 127.0.0.1:4222.
	Listen string
	// DataDir is where JetStream keeps its file store (required for JetStream).
	DataDir string
	// ConfigFile, if set, is a nats-server configuration file (auth, TLS,
	// cluster) applied before Listen and DataDir.
	ConfigFile string
	// Name is the server name (default: the config file's, else "vmfleet").
	Name string
	// MaxPayload bounds one message (default the server's, 1 MiB).
	MaxPayload int32
}

// StartServer starts an embedded nats-server with JetStream and waits until it
// accepts connections. Shut it down with Shutdown and WaitForShutdown.
func StartServer(cfg ServerConfig, log *slog.Logger) (*server.Server, error) {
	opts := &server.Options{}
	if cfg.ConfigFile != "" {
		o, err := server.ProcessConfigFile(cfg.ConfigFile)
		if err != nil {
			return nil, fmt.Errorf("nats-server config %s: %w", cfg.ConfigFile, err)
		}
		opts = o
	}
	if cfg.Listen != "" || opts.Port == 0 {
		host, port, err := splitListen(cfg.Listen)
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = host, port
	}
	// A config file's server_name wins (a cluster needs distinct names).
	if cfg.Name != "" {
		opts.ServerName = cfg.Name
	} else if opts.ServerName == "" {
		opts.ServerName = "vmfleet"
	}
	opts.JetStream = true
	// Every agent's watch of the spec bucket is a consumer of its stream;
	// nats-server caps consumers per stream at 1,000 by default, which
	// would leave the 1,000th host deaf to spec changes. A config file's
	// jetstream.limits.default_max_consumers still wins.
	if opts.JetStreamLimits.DefaultMaxConsumers == 0 {
		opts.JetStreamLimits.DefaultMaxConsumers = -1
	}
	if cfg.DataDir != "" {
		opts.StoreDir = cfg.DataDir
	}
	if cfg.MaxPayload > 0 {
		opts.MaxPayload = cfg.MaxPayload
	}
	opts.NoSigs = true
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start embedded nats-server: %w", err)
	}
	if log != nil {
		s.SetLoggerV2(&serverLogger{log: log.With("component", "nats-server")}, false, false, false)
	}
	go s.Start()
	if !s.ReadyForConnections(15 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("%w on %s within 15s", ErrServerNotReady, cfg.Listen)
	}
	return s, nil
}

func splitListen(listen string) (string, int, error) {
	if listen == "" {
		return "127.0.0.1", 4222, nil
	}
	host, p, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("nats listen address %q: want host:port: %w", listen, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < -1 || port > 65535 {
		return "", 0, fmt.Errorf("nats listen address %q: bad port", listen)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

// serverLogger routes nats-server's logs to slog.
type serverLogger struct{ log *slog.Logger }

func (l *serverLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Tracef(format string, v ...any)  {}
