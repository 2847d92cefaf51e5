package events

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecodeSpec: any bytes in KV vmfleet_spec give a valid spec or a
// field-named error, never a panic; a decoded spec encodes and decodes to
// itself (what agents read is what was meant).
func FuzzDecodeSpec(f *testing.F) {
	good := Spec{Images: DefaultImageSpec(), Cleanup: CleanupPolicy{KeepBunVersions: 1,
		Windows: []Window{{Schedule: "CRON_TZ=Europe/Berlin 0 2 * * *", Duration: Duration(2 * time.Hour)}}}}
	b, _ := Encode(TypeSpec, "/test", SpecKey, "", time.Unix(0, 0), good)
	f.Add(b)
	raw, _ := json.Marshal(good)
	f.Add(raw)
	f.Add([]byte(`{"images":{"releases":["14"],"bun_version":"1.2.16","bootstrap_version":"3.6","registry":"ghcr.io/{release}"}}`))
	f.Add([]byte(`{"images":{"name_template":"{release}","releases":["1 4"]},"cleanup":{"windows":[{"schedule":"* * *","duration":"-1h"}]}}`))
	f.Add([]byte(`{"specversion":"1.0","id":"x","source":"s","type":"dev.vmfleet.spec.v1","data":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSpec(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
				var fe *FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("Got(error) = %v, want a field-named error", err)
				}
			}
			return
		}
		if err := ValidateSpec(s); err != nil {
			t.Fatalf("Got(decoded spec invalid) = %v", err)
		}
		again, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := DecodeSpec(again)
		if err != nil {
			t.Fatalf("Got(re-decode) = %v of %s", err, again)
		}
		s.Revision, s2.Revision = 0, 0
		if diff := cmp.Diff(s, s2); diff != "" {
			t.Fatalf("Got(round trip) diff (-first +second):\n%s", diff)
		}
	})
}
