package redact

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/lmittmann/tint"
	"gopkg.in/yaml.v3"
)

const secret = "s3cr3t-value-42"

func TestSecretNeverPrints(t *testing.T) {
	s := Secret(secret)
	type cfg struct {
		User  string
		Token Secret
	}
	c := cfg{User: "u", Token: s}
	js, _ := json.Marshal(c)
	ym, _ := yaml.Marshal(c)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "token", s, "cfg", c)
	outputs := map[string]string{
		"%s": fmt.Sprintf("%s", s), "%v": fmt.Sprintf("%v", s), "%q": fmt.Sprintf("%q", s), "%x": fmt.Sprintf("%x", s),
		"%+v struct": fmt.Sprintf("%+v", c), "%#v struct": fmt.Sprintf("%#v", c), "%10s": fmt.Sprintf("%10s", s),
		"json": string(js), "yaml": string(ym), "slog": logged.String(), "error": fmt.Errorf("token %v", s).Error(),
	}
	for name, out := range outputs {
		if strings.Contains(out, secret) || strings.Contains(out, fmt.Sprintf("%x", secret)) {
			t.Errorf("Got(%s) = %q, which holds the secret", name, out)
		}
		if !strings.Contains(out, "REDACTED") && !strings.Contains(out, fmt.Sprintf("%x", Mask)) {
			t.Errorf("Got(%s) = %q, want the mask", name, out)
		}
	}
	if s.Reveal() != secret || fmt.Sprint(Secret("")) != "" {
		t.Errorf("Got(Reveal, empty) = %q, %q", s.Reveal(), fmt.Sprint(Secret("")))
	}
}

func TestURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nats://user:pw@host:4222", "nats://user:[REDACTED]@host:4222"},
		{"nats://tok3n@host:4222", "nats://[REDACTED]@host:4222"},
		{"nats://host:4222", "nats://host:4222"},
		{"connect to nats://a:b@h1,nats://c:d@h2: refused", "connect to nats://a:[REDACTED]@h1,nats://c:[REDACTED]@h2: refused"},
		{"mail me@example.com", "mail me@example.com"},
	}
	for _, tt := range tests {
		if got := URL(tt.in); got != tt.want {
			t.Errorf("Got(URL(%q)) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if !HasUserinfo("nats://tok@h") || HasUserinfo("nats://h:4222") {
		t.Errorf("Got(HasUserinfo) wrong")
	}
}

type stringer struct{ v string }

func (s stringer) String() string { return "stringer " + s.v }

func TestHandlerMasksJSONAndText(t *testing.T) {
	other := "another-secret-99"
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			var next slog.Handler = slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
			if format == "text" {
				next = tint.NewTextHandler(&buf, &tint.Options{Level: slog.LevelDebug, NoColor: true})
			}
			h := NewHandler(next, secret, "abc") // "abc": too short to mask
			log := slog.New(h).With("early", "with "+secret)
			Add(log, other)
			log.Info("message with "+secret, "str", other, "err", errors.New("auth "+secret+" refused"),
				"url", "nats://u:pw-in-url@h:4222", "group", slog.GroupValue(slog.String("inner", secret)),
				"stringer", stringer{other}, "slice", []string{"a", secret}, "short", "abc")
			log.WithGroup("g").Warn("grouped", "k", secret)
			out := buf.String()
			for _, leak := range []string{secret, other, "pw-in-url"} {
				if strings.Contains(out, leak) {
					t.Errorf("Got(log) holds %q:\n%s", leak, out)
				}
			}
			if !strings.Contains(out, "abc") || strings.Count(out, Mask) < 9 {
				t.Errorf("Got(log) = %s, want 9+ masks and the short value kept", out)
			}
		})
	}
	if Add(slog.New(slog.DiscardHandler), "x") {
		t.Errorf("Got(Add on a plain logger) = true, want false")
	}
}

// BenchmarkHandler is the cost the mask adds to one JSON log line with a
// message, three string attributes and an error, six secrets known.
func BenchmarkHandler(b *testing.B) {
	for _, wrapped := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "redacted"}[wrapped], func(b *testing.B) {
			var h slog.Handler = slog.NewJSONHandler(io.Discard, nil)
			if wrapped {
				h = NewHandler(h, "aaaa-1111", "bbbb-2222", "cccc-3333", "dddd-4444", "eeee-5555", "ffff-6666")
			}
			log := slog.New(h)
			err := errors.New("publish vmfleet.host.mac-01.health: nats: connection closed")
			b.ReportAllocs()
			for b.Loop() {
				log.Info("health not published", "host", "mac-01", "subject", "vmfleet.host.mac-01.health", "url", "nats://10.0.0.1:4222", "err", err)
			}
		})
	}
}
