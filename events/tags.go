package events

import "strings"

// Buildkite agent tag keys an agent computes from its health. The readiness
// keys are the seed's meta-data field names; each also comes per release,
// with the suffix "-macos-<release>" (ReleaseTagKey).
const (
	// TagKeyHost pins a job to one host (the VM build step); its value is the
	// host token (HostToken of the hostname), stable across checks.
	TagKeyHost      = "vmfleet-host"
	TagKeyQueue     = "queue"
	TagKeyReady     = "vm-ready"
	TagKeyImage     = "vm-image"
	TagKeyBootstrap = "vm-bootstrap-version"
	TagKeyBun       = "vm-bun-version"
)

// ReleaseTagKey is base's per-release key: ReleaseTagKey(TagKeyReady, "14")
// is "vm-ready-macos-14".
func ReleaseTagKey(base, release string) string { return base + "-macos-" + release }

// computedTagKeys are the keys an agent always owns (queue only with queue
// routing on, so it is not among them).
var computedTagKeys = []string{TagKeyHost, TagKeyReady, TagKeyImage, TagKeyBootstrap, TagKeyBun}

// IsComputedTagKey reports whether key is one an agent computes (or its
// per-release form): such a tag in Buildkite that a host does not report is
// drift; other keys are the operator's business.
func IsComputedTagKey(key string) bool {
	for _, k := range computedTagKeys {
		if key == k || strings.HasPrefix(key, k+"-macos-") {
			return true
		}
	}
	return false
}
