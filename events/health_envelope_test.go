package events

import (
	"bytes"
	"errors"
	"testing"
)

// TestDecodeHealthRefusesMalformedSelfEvents: events a host sends about
// itself that are well-formed JSON but say something impossible are
// refused, by the fast decoder as by the contract's, each with its reason.
func TestDecodeHealthRefusesMalformedSelfEvents(t *testing.T) {
	good := encode(t, health("mac-01", "boot", 7, t0))
	sub := func(old, new string) []byte {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("event lacks %s", old)
		}
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
	for _, tc := range []struct {
		name     string
		b        []byte
		wantErr  string // "" accepted
		mismatch bool   // errors.Is ErrHostMismatch
	}{
		{name: "as sent", b: good},
		{name: "seq null", b: sub(`"seq":7`, `"seq":null`), wantErr: "seq: null: want the event's sequence number in its boot (0 or more)"},
		{name: "non-JSON content type", b: sub(`"datacontenttype":"application/json"`, `"datacontenttype":"text/plain"`),
			wantErr: `datacontenttype: "text/plain" is not JSON: want application/json (or leave it out)`},
		{name: "binary content type", b: sub(`"datacontenttype":"application/json"`, `"datacontenttype":"application/octet-stream"`),
			wantErr: `datacontenttype: "application/octet-stream" is not JSON: want application/json (or leave it out)`},
		{name: "JSON with a charset", b: sub(`"datacontenttype":"application/json"`, `"datacontenttype":"application/json; charset=utf-8"`)},
		{name: "no content type", b: sub(`"datacontenttype":"application/json",`, ``)},
		{name: "envelope subject names another host", b: sub(`"subject":"mac-01"`, `"subject":"mac-02"`),
			wantErr: `subject: "mac-02" names another host than the payload's "mac-01"`, mismatch: true},
		{name: "envelope source names another host", b: sub(`"source":"/vmfleet/agent/mac-01"`, `"source":"/vmfleet/agent/mac-02"`),
			wantErr: `source: "/vmfleet/agent/mac-02" names another host than the payload's "mac-01"`, mismatch: true},
		{name: "no envelope subject", b: sub(`"subject":"mac-01",`, ``)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Through every path: the scanner's shape, the one-pass
			// decoder's (an unknown field), and the contract's.
			variants := [][]byte{tc.b, bytes.Replace(tc.b, []byte(`"data":{`), []byte(`"data":{"future":1,`), 1)}
			for _, b := range variants {
				h, _, err := DecodeHealth(b)
				_, werr := contractDecode(b)
				if tc.wantErr == "" {
					if err != nil || werr != nil || h == nil {
						t.Fatalf("Got(DecodeHealth, contract) errors = %v, %v; want accepted", err, werr)
					}
					continue
				}
				if err == nil || err.Error() != tc.wantErr {
					t.Errorf("Got(DecodeHealth error) = %v, want %s", err, tc.wantErr)
				}
				if werr == nil || werr.Error() != tc.wantErr {
					t.Errorf("Got(contract error) = %v, want %s", werr, tc.wantErr)
				}
				if !errors.Is(err, ErrInvalid) || errors.Is(err, ErrHostMismatch) != tc.mismatch {
					t.Errorf("Got(errors.Is ErrInvalid, ErrHostMismatch) = %v, %v; want true, %v",
						errors.Is(err, ErrInvalid), errors.Is(err, ErrHostMismatch), tc.mismatch)
				}
			}
		})
	}
}

func TestJSONContentType(t *testing.T) {
	for ct, want := range map[string]bool{
		"": true, "application/json": true, "Application/JSON ; charset=utf-8": true, "text/json": true,
		"application/cloudevents+json": true, "text/plain": false, "application/xml": false,
		"application/octet-stream": false, "json": false, "+json": false, "text/plain+json": false,
	} {
		if got := JSONContentType(ct); got != want {
			t.Errorf("Got(JSONContentType(%q)) = %v, want %v", ct, got, want)
		}
	}
}
