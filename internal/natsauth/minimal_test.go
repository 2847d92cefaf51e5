package natsauth_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/internal/natsauth"
)

// readSpec does what an agent does with the spec bucket: bind it, get the
// current spec, watch it through one update (with history, so the watcher's
// ordered consumer must answer flow control), and stop watching.
func readSpec(ctx context.Context, f *fleet, host *client, value []byte) error {
	js, err := jetstream.New(host.nc)
	if err != nil {
		return err
	}
	kv, err := js.KeyValue(ctx, events.BucketSpec)
	if err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	e, err := kv.Get(ctx, events.SpecKey)
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	if string(e.Value()) != string(value) {
		return fmt.Errorf("get: %d bytes, want %d", len(e.Value()), len(value))
	}
	w, err := kv.Watch(ctx, events.SpecKey, jetstream.IncludeHistory())
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	seen := 0
	for e := range w.Updates() {
		if e == nil {
			break
		}
		seen++
	}
	if seen == 0 {
		return errors.New("watch: no initial value")
	}
	if err := w.Stop(); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	return nil
}

// TestSpecReadSubjectsAreMinimal: a host reads the spec bucket (Get and a
// Watch with flow control) with exactly HostPermissions, and each of
// SpecReadSubjects, or allow_responses, is needed for it.
func TestSpecReadSubjectsAreMinimal(t *testing.T) {
	subj, _ := events.NewSubjects("")
	a := token(t, hostA)
	full := natsauth.HostPermissions(subj, a)
	tests := []struct {
		name    string
		perms   natsauth.Permissions
		wantErr bool
	}{{name: "host permissions", perms: full}}
	for _, drop := range natsauth.SpecReadSubjects() {
		p := full
		p.Publish = slices.DeleteFunc(slices.Clone(full.Publish), func(s string) bool { return s == drop })
		tests = append(tests, struct {
			name    string
			perms   natsauth.Permissions
			wantErr bool
		}{name: "without " + drop, perms: p, wantErr: true})
	}
	noResp := full
	noResp.Responses = false
	tests = append(tests, struct {
		name    string
		perms   natsauth.Permissions
		wantErr bool
	}{name: "without allow_responses", perms: noResp, wantErr: true})

	// Ten ~900 KB revisions: far past the 1 MB of pending bytes after which
	// the server asks the watcher for a flow-control reply.
	value := []byte(strings.Repeat("x", 900<<10))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := startWithHostPermissions(t, tt.perms)
			// Writing is setup, with room for a loaded machine; the read has
			// its own, shorter deadline, which a denied subject runs into.
			put, cancelPut := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancelPut()
			for i := 0; i < 10; i++ {
				if _, err := f.bkts.Spec.Put(put, events.SpecKey, value); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			host := f.connect(t, a)
			err := readSpec(ctx, f, host, value)
			if err == nil {
				err = host.nc.FlushTimeout(time.Second)
			}
			if err == nil {
				err = host.nc.LastError()
			}
			if (err != nil) != tt.wantErr {
				t.Errorf("Got(read spec) = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}
