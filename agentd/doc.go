// Package agentd is vmfleet's host agent (docs/agent.md): it evaluates the
// image spec against the host's tart inventory, publishes HostHealth events to
// NATS, and serves the host's commands (check, force, pull, prune).
//
// It owns:
//   - Check: one `tart list` per check, whatever the number of releases, turned
//     into per-release readiness with the reason codes of docs/agent.md, and,
//     during a rollout, into the staged spec's statuses (HostHealth.Staged:
//     ready, image_missing, no_space, tart_error) from the same listing;
//   - the room rule of staged rollouts: an image only the staged spec wants
//     is pulled (or built, RoomFor) only when it fits beside the host's
//     images, never by deleting a current one (ErrNoSpace);
//   - forced readiness states, persisted in the state directory with a TTL;
//   - the host lock (flock on $TART_HOME/.vmfleet.lock) around renames, pulls
//     and prunes;
//   - Run, the daemon: a timer (interval or cron spec), fsnotify on
//     $TART_HOME/vms, the spec in KV bucket vmfleet_spec (keys current and
//     next, one watch, the last good spec of each kept), and commands on
//     <prefix>.cmd.<host>.*, all funnelled into one check loop;
//   - a seam for Buildkite agent tags (TagApplier), which cmd/vmfleet fills
//     with a lever of package agentd/bkagent; this package never imports it.
//
// It must not execute tart itself (only through the small interfaces it
// declares, satisfied by *tart.Client and *tarttest.Fake), must not decide what
// to prune on its own (package cleanup does), and must not block on NATS: a
// host keeps checking while NATS is down and republishes on reconnect.
package agentd
