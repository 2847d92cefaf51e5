package natsauth_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/internal/natsauth"
)

// TestSeedOwner reads back whom Write made each seed for: hosts (one whose
// name is not its token too), the orchestrator and a consumer; a seed made
// elsewhere has no owner.
func TestSeedOwner(t *testing.T) {
	dir := t.TempDir()
	res := generate(t, dir, []string{"mac-01", "Mac.02"}, natsauth.WithConsumers("dashboard"))
	got := map[string]natsauth.Identity{}
	for _, s := range res.Seeds {
		id, ok, err := natsauth.SeedOwner(s.File)
		if err != nil || !ok {
			t.Fatalf("SeedOwner(%s) = %v, %v, want an owner", s.File, ok, err)
		}
		got[filepath.Base(s.File)] = id
	}
	tok := token(t, "Mac.02") // not the name: it carries a hash
	want := map[string]natsauth.Identity{
		"mac-01.nk":       {Name: "mac-01", Host: "mac-01", Role: natsauth.RoleHost},
		tok + ".nk":       {Name: tok, Host: "Mac.02", Role: natsauth.RoleHost},
		"orchestrator.nk": {Name: "orchestrator", Role: natsauth.RoleOrchestrator},
		"dashboard.nk":    {Name: "dashboard", Role: natsauth.RoleConsumer},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("owners (-want +got):\n%s", diff)
	}

	bare := filepath.Join(dir, "bare.nk")
	if _, _, err := natsauth.LoadOrCreateSeed(bare, "made by hand", false); err != nil {
		t.Fatal(err)
	}
	if id, ok, err := natsauth.SeedOwner(bare); err != nil || ok {
		t.Errorf("SeedOwner(a seed made elsewhere) = %+v, %v, %v, want no owner", id, ok, err)
	}
	if _, _, err := natsauth.SeedOwner(filepath.Join(dir, "missing.nk")); !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("SeedOwner(missing file) error = %v, want not-exist", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}
