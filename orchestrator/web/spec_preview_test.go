package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vmfleet/vmfleet/orchestrator/api"
	"github.com/vmfleet/vmfleet/orchestrator/rollout"
)

// TestWriteSpecErrorPreview: a dry run's preview is a 200 answer; a change
// refused for want of a confirmation is a 409 whose body carries the
// preview; other errors keep their statuses.
func TestWriteSpecErrorPreview(t *testing.T) {
	im := rollout.Impact{Action: rollout.ActionSet, Hosts: 4, Removed: []string{"13"}, ConfirmNeeded: true,
		Why: []string{"removes macOS 13"}}
	tests := []struct {
		name string
		err  error
		want int
	}{
		{name: "dry run", err: &rollout.PreviewError{Impact: im, DryRun: true}, want: http.StatusOK},
		{name: "refused", err: &rollout.PreviewError{Impact: im}, want: http.StatusConflict},
		{name: "no staged spec", err: rollout.ErrNoStagedSpec, want: http.StatusNotFound},
		{name: "other", err: errors.New("kv down"), want: http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			writeSpecError(rec, tt.err)
			if rec.Code != tt.want {
				t.Fatalf("Got(status) = %d, want %d; body %s", rec.Code, tt.want, rec.Body)
			}
			switch tt.want {
			case http.StatusOK:
				var got api.SpecPreview
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Hosts != 4 || !got.ConfirmNeeded {
					t.Errorf("Got(dry run body) = %+v, %v, want the preview", got, err)
				}
			case http.StatusConflict:
				var got api.SpecRefusal
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Preview.Removed[0] != "13" || got.Error == "" {
					t.Errorf("Got(refusal body) = %+v, %v, want the error and the preview", got, err)
				}
			}
		})
	}
}
