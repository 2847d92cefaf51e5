package natsauth

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// File and directory names inside the output directory.
const (
	// DefaultConfigName is the server configuration's file name.
	DefaultConfigName = "nats-server.conf"
	// CredsDir holds the seed files, one per identity: <name>.nk.
	CredsDir = "creds"
	// RoutesFile is the cluster include file with the route credentials.
	RoutesFile = "cluster-routes.conf"
	// routePasswordFile keeps the route password across runs (in CredsDir).
	routePasswordFile = "cluster-route.pass"
	// RouteUser is the user cluster routes authenticate as.
	RouteUser = "vmfleet-route"
	// SeedExt is the seed files' extension.
	SeedExt = ".nk"
)

// Defaults.
const (
	DefaultOrchestrator = "orchestrator"
	DefaultListen       = "0.0.0.0:4222"
	DefaultResponseTTL  = 3 * time.Hour
)

// Identity is one NATS user of a generated configuration.
type Identity struct {
	// Name is the seed file's stem: a host token, the orchestrator's or a consumer's name.
	Name string
	// Host is the host name as given (hosts only).
	Host string
	Role Role
	// InboxPrefix is the prefix its clients must connect with ("" for nats.go's default).
	InboxPrefix string
	Permissions Permissions
}

// SeedState says what a run did to an identity's seed.
type SeedState string

// Seed states.
const (
	SeedCreated SeedState = "created"
	SeedKept    SeedState = "kept"
	SeedRotated SeedState = "rotated"
)

// Seed is an identity with its seed file and public key after a run.
type Seed struct {
	Identity
	File      string
	PublicKey string
	State     SeedState
}

// Result is what Write produced.
type Result struct {
	// ConfigFile is the server configuration (0644, public keys only).
	ConfigFile string
	// RoutesFile is the cluster include file (0600), "" without a cluster.
	RoutesFile string
	Seeds      []Seed
	// Unused lists seed files in the creds directory that no identity uses
	// any more (a host left the list): delete them once the host is gone.
	Unused []string
	// Limits are account VMFLEET's JetStream limits as written.
	Limits AccountLimits
}

// Generator writes a nats-server configuration and the seeds of its users.
type Generator struct {
	subj         events.Subjects
	hosts        []Identity
	orchestrator string
	orchInbox    string
	consumers    []string
	server       Server
	confName     string
	rotate       []string
	rotateRoute  bool
	log          *slog.Logger
}

// New returns a Generator for hosts (host names; each becomes its subject
// token, events.HostToken). Two names with the same token, or a name shared
// by a host, the orchestrator or a consumer, are an error.
func New(hosts []string, opts ...Option) (*Generator, error) {
	subj, _ := events.NewSubjects("")
	g := &Generator{
		subj: subj, orchestrator: DefaultOrchestrator, confName: DefaultConfigName,
		server: Server{Listen: DefaultListen, ResponseTTL: DefaultResponseTTL},
		log:    slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		if err := o(g); err != nil {
			return nil, err
		}
	}
	if len(hosts) == 0 {
		return nil, ErrNoHosts
	}
	if g.server.Cluster != nil && g.server.Name == "" {
		return nil, invalid("a cluster node needs a server name, unique in the cluster")
	}
	seen := map[string]string{g.orchestrator: "the orchestrator"}
	for _, c := range g.consumers {
		if prev, dup := seen[c]; dup {
			return nil, fmt.Errorf("%w: consumer %q and %s", ErrDuplicateIdentity, c, prev)
		}
		seen[c] = fmt.Sprintf("consumer %q", c)
	}
	for _, h := range hosts {
		tok, err := events.HostToken(h)
		if err != nil {
			return nil, invalid("host %q: %v", h, err)
		}
		if prev, dup := seen[tok]; dup {
			return nil, fmt.Errorf("%w: host %q has token %q, like %s", ErrDuplicateIdentity, h, tok, prev)
		}
		seen[tok] = fmt.Sprintf("host %q", h)
		g.hosts = append(g.hosts, Identity{Name: tok, Host: h, Role: RoleHost,
			InboxPrefix: InboxPrefix(tok), Permissions: HostPermissions(g.subj, tok)})
	}
	for _, r := range g.rotate {
		if _, ok := g.identity(r); !ok {
			return nil, fmt.Errorf("%w: cannot rotate %q: not a host, the orchestrator or a consumer of this configuration", ErrUnknownIdentity, r)
		}
	}
	return g, nil
}

// Identities lists every identity: the orchestrator, the consumers, then the
// hosts in the order given.
func (g *Generator) Identities() []Identity {
	ids := []Identity{{Name: g.orchestrator, Role: RoleOrchestrator, InboxPrefix: g.orchInbox,
		Permissions: OrchestratorPermissions(g.subj, g.orchInboxSubject())}}
	for _, c := range g.consumers {
		ids = append(ids, Identity{Name: c, Role: RoleConsumer, InboxPrefix: InboxPrefix(c),
			Permissions: ConsumerPermissions(g.subj, c)})
	}
	return append(ids, g.hosts...)
}

func (g *Generator) orchInboxSubject() string {
	if g.orchInbox == "" {
		return ""
	}
	return g.orchInbox + ".>"
}

// identity finds an identity by name, host name or host token.
func (g *Generator) identity(name string) (Identity, bool) {
	for _, id := range g.Identities() {
		if id.Name == name || (id.Host != "" && id.Host == name) {
			return id, true
		}
	}
	return Identity{}, false
}

func (g *Generator) rotating(id Identity) bool {
	return slices.ContainsFunc(g.rotate, func(r string) bool { return r == id.Name || (id.Host != "" && r == id.Host) })
}

// Write creates dir/creds (0700) with one seed per identity (kept when it
// exists, replaced when rotated), renders the configuration, checks it with
// nats-server's parser and only then moves it into place (0644).
func (g *Generator) Write(dir string) (Result, error) {
	credsDir := filepath.Join(dir, CredsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Result{}, fmt.Errorf("create output directory: %w", err)
	}
	if err := os.MkdirAll(credsDir, 0o700); err != nil {
		return Result{}, fmt.Errorf("create creds directory: %w", err)
	}
	// An existing directory keeps its mode in MkdirAll: tighten it.
	if err := os.Chmod(credsDir, 0o700); err != nil {
		return Result{}, fmt.Errorf("creds directory: %w", err)
	}
	res := Result{ConfigFile: filepath.Join(dir, g.confName)}
	srv := g.server
	srv.Prefix = g.subj.Prefix
	for _, id := range g.Identities() {
		s, err := g.seed(credsDir, id)
		if err != nil {
			return res, err
		}
		res.Seeds = append(res.Seeds, s)
		srv.Users = append(srv.Users, User{Comment: comment(id), PublicKey: s.PublicKey, Permissions: id.Permissions})
	}
	if srv.Cluster != nil {
		f, err := g.writeRoutes(dir, credsDir, *srv.Cluster)
		if err != nil {
			return res, err
		}
		res.RoutesFile, srv.RoutesInclude = f, filepath.Base(f)
	}
	if err := writeValidated(res.ConfigFile, srv); err != nil {
		return res, err
	}
	res.Limits = srv.Limits.Resolve(len(srv.Users), srv.Cluster != nil)
	res.Unused = unusedSeeds(credsDir, res.Seeds)
	return res, nil
}

func (g *Generator) seed(credsDir string, id Identity) (Seed, error) {
	file := filepath.Join(credsDir, id.Name+SeedExt)
	rotate := g.rotating(id)
	pub, created, err := LoadOrCreateSeed(file, strings.TrimPrefix(seedComment, "# ")+comment(id), rotate)
	if err != nil {
		return Seed{}, fmt.Errorf("seed of %s: %w", comment(id), err)
	}
	state := SeedKept
	switch {
	case created && rotate:
		state = SeedRotated
	case created:
		state = SeedCreated
	}
	g.log.Debug("NATS identity", "identity", id.Name, "role", id.Role, "seed", file, "state", state)
	return Seed{Identity: id, File: file, PublicKey: pub, State: state}, nil
}

func (g *Generator) writeRoutes(dir, credsDir string, c Cluster) (string, error) {
	pw, _, err := loadOrCreatePassword(filepath.Join(credsDir, routePasswordFile), g.rotateRoute)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := RenderRoutes(&buf, c, RouteUser, pw); err != nil {
		return "", err
	}
	f := filepath.Join(dir, RoutesFile)
	if err := WriteFileAtomic(f, buf.Bytes(), SeedFileMode); err != nil {
		return "", err
	}
	return f, nil
}

// writeValidated renders srv next to path, checks it with nats-server's
// parser and renames it over path.
func writeValidated(path string, srv Server) error {
	var buf bytes.Buffer
	if err := Render(&buf, srv); err != nil {
		return err
	}
	// The candidate sits in the same directory so its include resolves alike.
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".candidate")
	if err := WriteFileAtomic(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp) }()
	if err := Validate(tmp, srv.Users); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func comment(id Identity) string {
	switch id.Role {
	case RoleHost:
		if id.Host != id.Name {
			return fmt.Sprintf("host %s (%s)", id.Name, id.Host)
		}
		return "host " + id.Name
	case RoleConsumer:
		return "consumer " + id.Name + " (read-only)"
	}
	if id.Name != DefaultOrchestrator {
		return "orchestrator " + id.Name
	}
	return "orchestrator"
}

// unusedSeeds lists seed files no identity of this run uses.
func unusedSeeds(credsDir string, seeds []Seed) []string {
	entries, err := os.ReadDir(credsDir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		f := filepath.Join(credsDir, e.Name())
		if !strings.HasSuffix(e.Name(), SeedExt) || slices.ContainsFunc(seeds, func(s Seed) bool { return s.File == f }) {
			continue
		}
		out = append(out, f)
	}
	return out
}

// routeWithAuth adds user and password to a nats-route:// URL.
func routeWithAuth(route, user, password string) (string, error) {
	u, err := url.Parse(route)
	if err != nil {
		return "", fmt.Errorf("%w: route %q: %v", ErrInvalidOption, route, err)
	}
	u.User = url.UserPassword(user, password)
	return u.String(), nil
}
