// Package buildkite is the only code of vmfleet that talks to Buildkite: a
// client of its REST API (go-buildkite v3 under a transport that turns a 429
// into a *RateLimitError at once, so no call blocks for minutes) for the
// builds of the build-macos-vm pipeline and the organization's agents, and
// the decoding of its webhook deliveries.
//
// Its consumers name what they need of it in their own small interfaces
// (the build manager's builds, the drift check's and pause lever's agents);
// *Client implements them, tests pass fakes.
package buildkite
