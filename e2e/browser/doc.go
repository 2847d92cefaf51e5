// Package browser holds the dashboard's end-to-end test: a real orchestrator
// (embedded NATS, the fake Buildkite API) and real agents over in-memory tart
// serve the page, and headless Chromium, driven with chromedp, watches a host
// turn ready live, uses the filters, stages a spec and watches the rollout
// panel follow it, and saves a screenshot to
// artifacts/dashboard.png. It has no code of its own; it must not reach the
// network (Chromium runs with background networking off and loads only the
// loopback page).
package browser
