package events

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecodeHealthOwned: handed a copy of the input, DecodeHealthOwned
// agrees with DecodeHealth on the result, the source and the error.
func FuzzDecodeHealthOwned(f *testing.F) {
	good := encode(f, health("mac-01", "b", 1, t0))
	f.Add(good)
	f.Add(encode(f, fullHealth()))
	f.Add(bytes.Replace(good, []byte(`"seq":1`), []byte(`"seq":-1`), 1))
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"/x","type":"dev.vmfleet.host.health.v1","data":{}}`))
	f.Add([]byte("null"))
	f.Fuzz(func(t *testing.T, b []byte) {
		want, wsrc, werr := DecodeHealth(b)
		got, src, err := DecodeHealthOwned(bytes.Clone(b))
		if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) || src != wsrc {
			t.Fatalf("Got(DecodeHealthOwned) = %q, %v, want %q, %v", src, err, wsrc, werr)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("Got(DecodeHealthOwned) diff (-DecodeHealth +owned):\n%s", diff)
		}
	})
}

// TestDecodeHealthOwnedSharesTheBuffer: the owned decode's strings are the
// buffer's bytes (no copy), the plain decode's are not.
func TestDecodeHealthOwnedSharesTheBuffer(t *testing.T) {
	b := encode(t, fullHealth())
	h, _, err := DecodeHealthOwned(b)
	if err != nil {
		t.Fatal(err)
	}
	c := bytes.Clone(b)
	hc, _, err := DecodeHealth(c)
	if err != nil {
		t.Fatal(err)
	}
	host := strings.Clone(h.Host)
	copy(b[bytes.Index(b, []byte(`"host":"`))+len(`"host":"`):], "X")
	copy(c[bytes.Index(c, []byte(`"host":"`))+len(`"host":"`):], "X")
	if h.Host == host || hc.Host != host {
		t.Errorf("Got(hosts after writing both buffers) = owned %q, copied %q, want the owned one changed (shared), the copied one %q", h.Host, hc.Host, host)
	}
}

// BenchmarkDecodeHealthOwned is DecodeHealth against DecodeHealthOwned on
// one event (2 releases, 4 VMs, disk, tags).
func BenchmarkDecodeHealthOwned(b *testing.B) {
	data := encode(b, fullHealth())
	for _, c := range []struct {
		name   string
		decode func([]byte) (*HostHealth, string, error)
	}{{"copy", DecodeHealth}, {"owned", DecodeHealthOwned}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := c.decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
