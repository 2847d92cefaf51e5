// Package deploy holds the files an operator installs as they are: the launchd
// plist of the agent (launchd/), the systemd unit of the orchestrator
// (systemd/), the container image (docker/), example configurations
// (config/), nats-server configurations (nats/) and the Buildkite pipelines
// (buildkite/). It has no Go code of its own: its tests parse every file, and
// cmd/vmfleet's tests load the example configurations through the real
// configuration loader. It must not hold secrets: seeds and tokens are
// generated or provisioned on the target machine.
package deploy
