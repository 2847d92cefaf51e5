package events

import (
	"encoding/json"
	"strconv"
	"time"
)

// scanHealth decodes a health event in the shape Encode writes it,
// without reflection: ASCII strings without escapes, plain integers, every
// key spelled exactly as the contract spells it and given once. It reports
// false for anything else (an unknown or repeated key, an escape, a
// non-ASCII byte, null, a number with a fraction or an exponent...), and
// the caller decodes the event again with encoding/json. When it reports
// true the result is what encoding/json gives for the same bytes: the same
// fields, [] as an empty slice, times parsed by time.Time.UnmarshalJSON.
// FuzzDecodeHealth holds the whole decoder to Decode +
// DecodeData.
func scanHealth(b []byte) (env Envelope, h *HostHealth, ok bool) {
	return scanHealthIn(b, string(b))
}

// scanHealthIn is scanHealth with the string every string field is a
// substring of: a copy of b, or b itself when the caller hands b over
// (DecodeHealthOwned).
func scanHealthIn(b []byte, str0 string) (env Envelope, h *HostHealth, ok bool) {
	s := scanner{b: b, str0: str0}
	var seen uint
	ok = s.object(func(key []byte) bool {
		bit, known := envelopeKeys[string(key)]
		if !known || seen&bit != 0 {
			return false
		}
		seen |= bit
		ok := false
		switch bit {
		case 1 << 0:
			env.SpecVersion, ok = s.str()
		case 1 << 1:
			env.ID, ok = s.str()
		case 1 << 2:
			env.Source, ok = s.str()
		case 1 << 3:
			env.Type, ok = s.str()
		case 1 << 4:
			env.Time, ok = s.time()
		case 1 << 5:
			env.Subject, ok = s.str()
		case 1 << 6:
			env.DataContentType, ok = s.str()
		case 1 << 7:
			h = new(HostHealth)
			ok = s.health(h)
		}
		return ok
	})
	s.ws()
	if !ok || s.i != len(s.b) || h == nil {
		return Envelope{}, nil, false
	}
	env.Data = nonEmptyData
	return env, h, true
}

var envelopeKeys = map[string]uint{"specversion": 1 << 0, "id": 1 << 1, "source": 1 << 2, "type": 1 << 3,
	"time": 1 << 4, "subject": 1 << 5, "datacontenttype": 1 << 6, "data": 1 << 7}

var healthKeys = map[string]uint{"host": 1 << 0, "hostname": 1 << 1, "agent": 1 << 2, "boot_id": 1 << 3, "seq": 1 << 4,
	"checked_at": 1 << 5, "heartbeat_seconds": 1 << 6, "tart_version": 1 << 7, "ready": 1 << 8, "releases": 1 << 9,
	"vms": 1 << 10, "disk": 1 << 11, "tart_error": 1 << 12, "buildkite_tags": 1 << 13, "queue": 1 << 14, "spec_revision": 1 << 15,
	"staged": 1 << 16, "next_revision": 1 << 17}

// health decodes the payload object; "forced" is left to encoding/json.
func (s *scanner) health(h *HostHealth) bool {
	var seen uint
	return s.object(func(key []byte) bool {
		bit, known := healthKeys[string(key)]
		if !known || seen&bit != 0 {
			return false
		}
		seen |= bit
		ok := false
		switch bit {
		case 1 << 0:
			h.Host, ok = s.str()
		case 1 << 1:
			h.Hostname, ok = s.str()
		case 1 << 2:
			h.Agent, ok = s.str()
		case 1 << 3:
			h.BootID, ok = s.str()
		case 1 << 4:
			h.Seq, ok = s.uint()
		case 1 << 5:
			h.CheckedAt, ok = s.time()
		case 1 << 6:
			var n int64
			n, ok = s.int(strconv.IntSize)
			h.HeartbeatSeconds = int(n)
		case 1 << 7:
			h.TartVersion, ok = s.str()
		case 1 << 8:
			h.Ready, ok = s.bool()
		case 1 << 9:
			ok = s.array(func() bool {
				h.Releases = append(h.Releases, ReleaseStatus{})
				return s.release(&h.Releases[len(h.Releases)-1])
			})
			if ok && h.Releases == nil {
				h.Releases = []ReleaseStatus{}
			}
		case 1 << 10:
			ok = s.array(func() bool {
				h.VMs = append(h.VMs, VM{})
				return s.vm(&h.VMs[len(h.VMs)-1])
			})
			if ok && h.VMs == nil {
				h.VMs = []VM{}
			}
		case 1 << 11:
			h.Disk = new(Disk)
			ok = s.disk(h.Disk)
		case 1 << 12:
			h.TartError, ok = s.str()
		case 1 << 13:
			ok = s.array(func() bool {
				v, ok := s.str()
				h.BuildkiteTags = append(h.BuildkiteTags, v)
				return ok
			})
			if ok && h.BuildkiteTags == nil {
				h.BuildkiteTags = []string{}
			}
		case 1 << 14:
			h.Queue, ok = s.str()
		case 1 << 15:
			h.SpecRevision, ok = s.uint()
		case 1 << 16:
			ok = s.array(func() bool {
				h.Staged = append(h.Staged, ReleaseStatus{})
				return s.release(&h.Staged[len(h.Staged)-1])
			})
			if ok && h.Staged == nil {
				h.Staged = []ReleaseStatus{}
			}
		case 1 << 17:
			h.NextRevision, ok = s.uint()
		}
		return ok
	})
}

func (s *scanner) release(r *ReleaseStatus) bool {
	var seen uint
	return s.object(func(key []byte) bool {
		var bit uint
		var p *string
		switch string(key) {
		case "release":
			bit, p = 1<<0, &r.Release
		case "expected_image":
			bit, p = 1<<1, &r.ExpectedImage
		case "ready":
			bit = 1 << 2
		case "reason":
			bit, p = 1<<3, (*string)(&r.Reason)
		case "detail":
			bit, p = 1<<4, &r.Detail
		case "bun":
			bit, p = 1<<5, &r.Bun
		case "bootstrap":
			bit, p = 1<<6, &r.Bootstrap
		}
		if bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		ok := false
		if p == nil {
			r.Ready, ok = s.bool()
		} else {
			*p, ok = s.str()
		}
		return ok
	})
}

func (s *scanner) vm(v *VM) bool {
	var seen uint
	return s.object(func(key []byte) bool {
		var bit uint
		var p *string
		var n *int
		switch string(key) {
		case "name":
			bit, p = 1<<0, &v.Name
		case "source":
			bit, p = 1<<1, &v.Source
		case "state":
			bit, p = 1<<2, &v.State
		case "disk_gb":
			bit, n = 1<<3, &v.DiskGB
		case "size_gb":
			bit, n = 1<<4, &v.SizeGB
		case "accessed":
			bit = 1 << 5
		}
		if bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		ok := false
		switch {
		case p != nil:
			*p, ok = s.str()
		case n != nil:
			var x int64
			x, ok = s.int(strconv.IntSize)
			*n = int(x)
		default:
			v.Accessed, ok = s.time()
		}
		return ok
	})
}

func (s *scanner) disk(d *Disk) bool {
	var seen uint
	return s.object(func(key []byte) bool {
		var bit uint
		var n *int64
		switch string(key) {
		case "path":
			bit = 1 << 0
		case "free_bytes":
			bit, n = 1<<1, &d.FreeBytes
		case "total_bytes":
			bit, n = 1<<2, &d.TotalBytes
		}
		if bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		ok := false
		if n == nil {
			d.Path, ok = s.str()
		} else {
			*n, ok = s.int(64)
		}
		return ok
	})
}

// healthEnvelope decodes envelope and payload in one pass: the fast path.
type healthEnvelope struct {
	SpecVersion string      `json:"specversion"`
	ID          string      `json:"id"`
	Source      string      `json:"source"`
	Type        string      `json:"type"`
	Time        time.Time   `json:"time"` // parsed only so a bad time fails here as it does in Decode
	Subject     string      `json:"subject"`
	ContentType string      `json:"datacontenttype"`
	Data        *healthData `json:"data"`
}

var nonEmptyData = json.RawMessage(`{}`)

// decodeHealth decodes and validates a health event exactly as Decode
// plus DecodeData would: with scanHealth when the event is in the
// shape agents write, else in one encoding/json pass when it is good; any
// failure is decoded again by those two so the error is the contract's own.
func DecodeHealth(b []byte) (*HostHealth, string, error) {
	return decodeHealth(b, scanHealth)
}

func decodeHealth(b []byte, scan func([]byte) (Envelope, *HostHealth, bool)) (*HostHealth, string, error) {
	if len(b) <= MaxEventBytes {
		if env, h, ok := scan(b); ok {
			if env.Type == TypeHostHealth && env.Validate() == nil && h.Validate() == nil && h.checkEnvelope(env) == nil {
				return h, env.Source, nil
			}
		} else if h, source, ok := decodeHealthOnePass(b); ok {
			return h, source, nil
		}
	}
	env, err := Decode(b)
	if err != nil {
		return nil, "", err
	}
	h, err := DecodeData[HostHealth](env, TypeHostHealth)
	if err != nil {
		return nil, env.Source, err
	}
	return &h, env.Source, nil
}

// decodeHealthOnePass decodes envelope and payload in one encoding/json
// pass, for good events that scanHealth leaves out (unknown fields,
// escapes...).
func decodeHealthOnePass(b []byte) (*HostHealth, string, bool) {
	var e healthEnvelope
	if json.Unmarshal(b, &e) == nil && e.Data != nil && e.Type == TypeHostHealth {
		env := Envelope{SpecVersion: e.SpecVersion, ID: e.ID, Source: e.Source, Type: e.Type,
			Subject: e.Subject, DataContentType: e.ContentType, Data: nonEmptyData}
		if h, err := e.Data.health(); err == nil && env.Validate() == nil && h.Validate() == nil && h.checkEnvelope(env) == nil {
			return h, e.Source, true
		}
	}
	return nil, "", false
}
