package gobuild

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildOncePerPackage(t *testing.T) {
	const pkg = "github.com/vmfleet/vmfleet/tart/tarttest/faketart"
	p1, err := Build(pkg, "tart")
	if err != nil {
		t.Fatal(err)
	}
	p2, err := Build(pkg, "tart")
	if err != nil || p2 != p1 {
		t.Fatalf("Got(second Build) = %q, %v, want the first path %q", p2, err, p1)
	}
	st, err := os.Stat(p1)
	if err != nil || st.Mode()&0o111 == 0 || filepath.Base(p1) != "tart" {
		t.Errorf("Got(stat %s) = %v, %v, want an executable named tart", p1, st, err)
	}
}

func TestBuildReportsCompileErrors(t *testing.T) {
	if _, err := Build("github.com/vmfleet/vmfleet/no/such/package", "x"); err == nil || !strings.Contains(err.Error(), "no/such/package") {
		t.Errorf("Got(Build of a missing package) error = %v, want one naming it", err)
	}
}
