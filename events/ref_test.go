package events

import "testing"

func TestValidateOCIRefRefusesPathsAndURLs(t *testing.T) {
	tests := []struct {
		ref string
		ok  bool
	}{
		{"ghcr.io/cirruslabs/macos-sonoma-base:latest", true},
		{"127.0.0.1:5000/acme/macos-14:1.2.16-3.6", true},
		{"ghcr.io/acme/macos@sha256:0123abcd", true},
		{"macos-14", true}, // a local VM name: tart clones it
		{"file:///etc/passwd", false},
		{"https://ghcr.io/acme/x:1", false},
		{"../../etc/x", false},
		{"ghcr.io/../x:1", false},
		{"ghcr.io//x:1", false},
		{"ghcr.io/.hidden/x:1", false},
		{"-v", false},
		{"ghcr.io/a/b:1;id", false},
	}
	for _, tt := range tests {
		if err := ValidateOCIRef(tt.ref); (err == nil) != tt.ok {
			t.Errorf("Got(ValidateOCIRef(%q)) = %v, want ok %v", tt.ref, err, tt.ok)
		}
	}
}
