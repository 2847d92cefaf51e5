package buildkite

import (
	"encoding/json"

	gobk "github.com/buildkite/go-buildkite/v3/buildkite"
)

// Webhook is what a Buildkite webhook delivery says of a build.
type Webhook struct {
	// Event is Buildkite's event name, e.g. "build.finished".
	Event string
	Build BuildInfo
}

// DecodeWebhook reads a webhook body (already authenticated by the
// receiver). Build is read whatever the event; act on build.* events only.
func DecodeWebhook(body []byte) (Webhook, error) {
	var hook struct {
		Event string     `json:"event"`
		Build gobk.Build `json:"build"`
	}
	if err := json.Unmarshal(body, &hook); err != nil {
		return Webhook{}, err
	}
	return Webhook{Event: hook.Event, Build: buildInfo(hook.Build)}, nil
}
