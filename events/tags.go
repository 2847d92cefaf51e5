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

// ImageTagKey is the key saying a host holds image name ready:
// "vm-image-" + name, set to "true" for every image of an active spec
// (current or staged) the host holds, so a job can target one exact image
// while two specs are active (docs/routing.md).
func ImageTagKey(name string) string { return TagKeyImage + "-" + name }

// computedTagKeys are the keys an agent always owns (queue only with queue
// routing on, so it is not among them).
var computedTagKeys = []string{TagKeyHost, TagKeyReady, TagKeyImage, TagKeyBootstrap, TagKeyBun}

// IsComputedTagKey reports whether key is one an agent computes (or its
// per-release form, or an image's, ImageTagKey): such a tag in Buildkite
// that a host does not report is drift; other keys are the operator's
// business.
func IsComputedTagKey(key string) bool {
	if strings.HasPrefix(key, TagKeyImage+"-") {
		return true
	}
	for _, k := range computedTagKeys {
		if key == k || strings.HasPrefix(key, k+"-macos-") {
			return true
		}
	}
	return false
}
