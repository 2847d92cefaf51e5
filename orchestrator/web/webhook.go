package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vmfleet/vmfleet/orchestrator/buildkite"
)

const (
	// webhookMaxBody bounds a webhook body.
	webhookMaxBody = 1 << 20
	// webhookMaxAge is how far a signature timestamp may be from now.
	webhookMaxAge = 5 * time.Minute
)

var (
	errWebhookUnauthorized = errors.New("webhook: no valid signature or token")
	errWebhookStale        = errors.New("webhook: signature timestamp too old or in the future")
	errWebhookReplay       = errors.New("webhook: signature already seen")
)

// replayCache remembers signatures seen within webhookMaxAge.
type replayCache struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// first records sig at ts and reports whether it is new.
func (c *replayCache) first(sig string, ts, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, t := range c.seen {
		if now.Sub(t) > webhookMaxAge {
			delete(c.seen, k)
		}
	}
	if _, ok := c.seen[sig]; ok {
		return false
	}
	c.seen[sig] = ts
	return true
}

// verifyWebhook checks X-Buildkite-Signature (HMAC-SHA256 of
// "<timestamp>.<body>", timestamp within 5 minutes, never twice) or, when a
// token is configured, X-Buildkite-Token. A signature that is present but
// wrong is refused even if a token would do.
func (s *Server) verifyWebhook(r *http.Request, body []byte) error {
	if h := r.Header.Get("X-Buildkite-Signature"); h != "" && s.cfg.WebhookSecret != "" {
		return s.verifySignature(h, body)
	}
	if tok := r.Header.Get("X-Buildkite-Token"); tok != "" && s.cfg.WebhookToken != "" &&
		subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.WebhookToken)) == 1 {
		return nil
	}
	return errWebhookUnauthorized
}

func (s *Server) verifySignature(header string, body []byte) error {
	var tsText, sigHex string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "timestamp":
			tsText = v
		case "signature":
			sigHex = v
		}
	}
	unix, err := strconv.ParseInt(tsText, 10, 64)
	sig, herr := hex.DecodeString(sigHex)
	if err != nil || herr != nil || len(sig) == 0 {
		return errWebhookUnauthorized
	}
	mac := hmac.New(sha256.New, []byte(s.cfg.WebhookSecret))
	mac.Write([]byte(tsText + "."))
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), sig) {
		return errWebhookUnauthorized
	}
	ts, now := time.Unix(unix, 0), s.o.Now()
	if d := now.Sub(ts); d > webhookMaxAge || d < -webhookMaxAge {
		return errWebhookStale
	}
	// Keyed by the MAC itself, not the header: the same signature re-spelt
	// (fields swapped, upper-case hex, spaces) is the same delivery.
	if !s.replays.first(hex.EncodeToString(sig), ts, now) {
		return errWebhookReplay
	}
	return nil
}

// handleWebhook is POST /webhooks/buildkite: build.* events update the
// matching record at once (the core's ObserveWebhook).
func (s *Server) handleWebhook(w http.ResponseWriter, r *http.Request) {
	if s.cfg.WebhookSecret == "" && s.cfg.WebhookToken == "" {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, webhookMaxBody))
	if err != nil {
		s.webhooks.WithLabelValues("bad_request").Inc()
		writeError(w, http.StatusRequestEntityTooLarge, err)
		return
	}
	if err := s.verifyWebhook(r, body); err != nil {
		result := map[error]string{errWebhookStale: "stale", errWebhookReplay: "replay"}[err]
		if result == "" {
			result = "unauthorized"
		}
		s.webhooks.WithLabelValues(result).Inc()
		s.o.Logger().Warn("webhook refused", "err", err, "remote", r.RemoteAddr)
		writeError(w, http.StatusUnauthorized, err)
		return
	}
	hook, err := buildkite.DecodeWebhook(body)
	if err != nil {
		s.webhooks.WithLabelValues("bad_request").Inc()
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if !s.o.ObserveWebhook(r.Context(), hook) {
		s.webhooks.WithLabelValues("ignored").Inc()
		writeJSON(w, http.StatusOK, map[string]string{"result": "ignored"})
		return
	}
	s.webhooks.WithLabelValues("accepted").Inc()
	writeJSON(w, http.StatusOK, map[string]string{"result": "accepted"})
}
