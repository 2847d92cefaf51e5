package events

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecodeEither(t *testing.T) {
	t.Parallel()
	env, err := Encode(CommandType(VerbPull), "/test", "", "", time.Unix(0, 0), PullRequest{Source: "ghcr.io/a/b:1", Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"envelope": env, "bare": []byte(` {"source":"ghcr.io/a/b:1","name":"x"} `)} {
		got, err := DecodeEither[PullRequest](b, CommandType(VerbPull))
		if err != nil || got.Source != "ghcr.io/a/b:1" || got.Name != "x" {
			t.Errorf("Got(DecodeEither(%s)) = %+v, %v, want the request", name, got, err)
		}
	}
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"not JSON", []byte("{not json"), "data: not JSON"},
		{"not an object", []byte(`"x"`), "data: want a JSON object"},
		{"wrong field type", []byte(`{"source":1}`), "data: json"},
		{"invalid bare payload", []byte(`{"source":"--x","name":"x"}`), "source:"},
		{"envelope of another type", []byte(strings.Replace(string(env), CommandType(VerbPull), CommandType(VerbPrune), 1)), "type:"},
		{"envelope of another version", []byte(`{"specversion":"0.3","id":"1","source":"x","type":"t","data":{}}`), "specversion"},
		{"envelope without data", []byte(`{"specversion":"1.0","id":"1","source":"x","type":"dev.vmfleet.cmd.pull.v1"}`), "data: missing"},
	}
	for _, tt := range tests {
		_, err := DecodeEither[PullRequest](tt.b, CommandType(VerbPull))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Got(DecodeEither(%s)) = %v, want an invalid error containing %q", tt.name, err, tt.want)
		}
	}
	if _, err := DecodeEither[Reply](make([]byte, MaxEventBytes+1), ""); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Got(DecodeEither(too large)) = %v, want ErrTooLarge", err)
	}
	if _, err := DecodeEither[Reply](env, ""); err != nil {
		t.Errorf("Got(DecodeEither(any type)) = %v, want nil", err)
	}
}
