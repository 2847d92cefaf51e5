package builds

import (
	"regexp"
	"testing"
)

func TestRecordKey(t *testing.T) {
	kvKey := regexp.MustCompile(`^[-/_=.a-zA-Z0-9]+$`)
	tests := []struct {
		image, host, want string
	}{
		{image: "bun-build-macos-14-1.2.16-bootstrap-3.6", want: "bun-build-macos-14-1.2.16-bootstrap-3.6"},
		{image: "bun-build-macos-14-1.2.16-bootstrap-3.6", host: "mac-01", want: "bun-build-macos-14-1.2.16-bootstrap-3.6/mac-01"},
		{image: "img-1.2.16+canary", want: "img-1.2.16=2Bcanary"},
		{image: "img-1..2", want: "img-1=2E=2E2"},
		{image: "img-1.", want: "img-1=2E"},
		{image: "Img_x", host: "h_1", want: "Img_x/h_1"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got := RecordKey(tt.image, tt.host)
			if got != tt.want {
				t.Errorf("Got(RecordKey(%q, %q)) = %q, want %q", tt.image, tt.host, got, tt.want)
			}
			if !kvKey.MatchString(got) {
				t.Errorf("Got(RecordKey) = %q, not a valid KV key", got)
			}
			for _, tok := range regexp.MustCompile(`\.`).Split(got, -1) {
				if tok == "" {
					t.Errorf("Got(RecordKey) = %q, has an empty token", got)
				}
			}
			if prev, ok := seen[got]; ok {
				t.Errorf("Got(RecordKey) = %q for both %s and %s", got, prev, tt.image+"/"+tt.host)
			}
			seen[got] = tt.image + "/" + tt.host
		})
	}
}
