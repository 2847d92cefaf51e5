package agentd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/vmfleet/vmfleet/events"
)

// Defaults of Config.
const (
	DefaultInterval    = 60 * time.Second
	DefaultTartTimeout = 60 * time.Second
	DefaultPullTimeout = 2 * time.Hour
	// LockFile is the host lock's name under $TART_HOME.
	LockFile = ".vmfleet.lock"
)

// Config is the agent's configuration. Zero fields take the defaults listed;
// Validate names the configuration key at fault (the keys of `vmfleet agent`'s
// config file, see docs/configuration.md).
type Config struct {
	// Hostname is the machine's name ("" = os.Hostname()). The host token used
	// in subjects and events is events.HostToken(Hostname).
	Hostname string
	// AgentName is the name shown in events ("" = Hostname).
	AgentName string
	// Images is the local image spec, used until (and unless) the spec in KV
	// bucket vmfleet_spec overrides it. Zero: events.DefaultImageSpec().
	Images events.ImageSpec
	// TartHome is tart's home ("" = $HOME/.tart); the agent watches its vms
	// directory, measures its disk and keeps the host lock there.
	TartHome string
	// StateDir holds forced states and the last check ("" = $HOME/.vmfleet/agent).
	StateDir string
	// Interval between timed checks (default 60s); Schedule, if set, replaces it.
	Interval time.Duration
	// Schedule is a robfig/cron spec for timed checks ("*/5 * * * *", "@every 30s").
	Schedule string
	// Heartbeat is the longest time between two health events (default Interval).
	Heartbeat time.Duration
	// TartTimeout bounds list, version, rename and delete (default 60s).
	TartTimeout time.Duration
	// PullTimeout bounds a pull (a clone of a registry image; default 2h).
	PullTimeout time.Duration
	// SubjectPrefix is the NATS subject prefix ("" = vmfleet).
	SubjectPrefix string
}

func fieldErr(key, reason string) error { return &events.FieldError{Field: key, Reason: reason} }

// WithDefaults returns c with defaults filled and checks it, naming the key
// at fault (an *events.FieldError). New calls it.
func (c Config) WithDefaults() (Config, error) { return c.withDefaults() }

func (c Config) withDefaults() (Config, error) {
	if c.Hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			return c, fieldErr("host", "cannot read the machine's host name ("+err.Error()+"): set --host")
		}
		c.Hostname = h
	}
	if _, err := events.HostToken(c.Hostname); err != nil {
		return c, err
	}
	if c.AgentName == "" {
		c.AgentName = c.Hostname
	}
	if c.Images.NameTemplate == "" && c.Images.Releases == nil && c.Images.BunVersion == "" && c.Images.BootstrapVersion == "" {
		c.Images = events.DefaultImageSpec()
	}
	if c.Images.NameTemplate == "" {
		c.Images.NameTemplate = events.DefaultNameTemplate
	}
	if err := c.Images.Validate(); err != nil {
		return c, err
	}
	home, _ := os.UserHomeDir()
	if c.TartHome == "" {
		c.TartHome = filepath.Join(home, ".tart")
	}
	if c.StateDir == "" {
		c.StateDir = filepath.Join(home, ".vmfleet", "agent")
	}
	if !filepath.IsAbs(c.TartHome) {
		return c, fieldErr("tart.home", fmt.Sprintf("%q: want an absolute path", c.TartHome))
	}
	if !filepath.IsAbs(c.StateDir) {
		return c, fieldErr("state_dir", fmt.Sprintf("%q: want an absolute path", c.StateDir))
	}
	return c.durations()
}

func (c Config) durations() (Config, error) {
	type dur struct {
		key string
		v   *time.Duration
		def time.Duration
	}
	for _, d := range []dur{
		{"check.interval", &c.Interval, DefaultInterval},
		{"check.heartbeat", &c.Heartbeat, 0},
		{"tart.timeout", &c.TartTimeout, DefaultTartTimeout},
		{"tart.pull_timeout", &c.PullTimeout, DefaultPullTimeout},
	} {
		if *d.v < 0 {
			return c, fieldErr(d.key, fmt.Sprintf("%s: must be positive", *d.v))
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.Interval < 100*time.Millisecond {
		return c, fieldErr("check.interval", fmt.Sprintf("%s: must be at least 100ms", c.Interval))
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = c.Interval
	}
	if _, err := parseSchedule(c.Schedule, c.Interval); err != nil {
		return c, err
	}
	if _, err := events.NewSubjects(c.SubjectPrefix); err != nil {
		return c, fieldErr("nats.subject_prefix", err.Error())
	}
	return c, nil
}

// schedule says when the next timed check is due.
type schedule interface{ Next(time.Time) time.Time }

type every time.Duration

func (e every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }

func parseSchedule(spec string, interval time.Duration) (schedule, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return every(interval), nil
	}
	s, err := parseCron(spec)
	if err != nil {
		return nil, fieldErr("check.schedule", fmt.Sprintf("%q: %v (want a cron spec like \"*/5 * * * *\" or \"@every 30s\")", spec, err))
	}
	return s, nil
}

// parseCron wraps cron.ParseStandard, which panics on some malformed zone prefixes.
func parseCron(spec string) (s cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("not a cron spec")
		}
	}()
	return cron.ParseStandard(spec)
}
