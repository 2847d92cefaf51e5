package buildkitefake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Delivery records one webhook the server sent, failed to send, or dropped.
type Delivery struct {
	Event   string // build.scheduled, build.running or build.finished
	Build   Build  // the build as the webhook body describes it
	Status  int    // the receiver's HTTP status; 0 if dropped or failed
	Err     string // transport error or timeout, if any
	Dropped bool   // dropped by DropWebhooks
}

type pendingHook struct {
	event string
	build Build
	body  []byte
}

type webhookQueue struct {
	mu      sync.Mutex
	pending []pendingHook
	// busy is the builds with a webhook in flight, by buildKey: a build's
	// next webhook waits for its previous one, so each build's webhooks
	// arrive in order even with several workers.
	busy     map[string]bool
	inflight int
	closed   bool
	drop     int
	done     []Delivery
	wake     chan struct{} // capacity 1: a burst of pushes is one wake-up
	changed  chan struct{} // closed and replaced on every completion
	client   *http.Client
}

func (q *webhookQueue) init() {
	q.busy = map[string]bool{}
	q.wake = make(chan struct{}, 1)
	q.changed = make(chan struct{})
	q.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
}

// SignatureHeader returns the X-Buildkite-Signature value Buildkite sends for
// body at time ts: "timestamp=<unix>,signature=<hex HMAC-SHA256(secret, "<unix>.<body>")>".
func SignatureHeader(secret string, ts time.Time, body []byte) string {
	unix := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(unix + "."))
	mac.Write(body)
	return "timestamp=" + unix + ",signature=" + hex.EncodeToString(mac.Sum(nil))
}

func webhookEvent(st State) string {
	switch {
	case st == StateScheduled:
		return "build.scheduled"
	case st == StateRunning:
		return "build.running"
	case st.Finished():
		return "build.finished"
	}
	return "" // canceling has no webhook event
}

// queueWebhookLocked queues the webhook for a state change. Caller holds s.mu,
// so deliveries keep the order of changes.
func (s *Server) queueWebhookLocked(b Build) {
	event := webhookEvent(b.State)
	if s.cfg.webhookURL == "" || event == "" {
		return
	}
	p := s.pipelineLocked(b.Org, b.Pipeline)
	body, err := json.Marshal(map[string]any{
		"event":    event,
		"build":    s.buildJSON(b, p, false),
		"pipeline": s.pipelineJSON(p),
		"sender":   wireUser{ID: fakeUserID, Name: "vmfleet fake"},
	})
	if err != nil {
		s.log.Error("encode webhook", "err", err)
		return
	}
	s.wh.mu.Lock()
	s.wh.pending = append(s.wh.pending, pendingHook{event: event, build: b, body: body})
	s.wh.mu.Unlock()
	s.wakeWebhooks()
}

// DropWebhooks makes the next n webhooks vanish unsent (recorded as Dropped).
func (s *Server) DropWebhooks(n int) {
	s.wh.mu.Lock()
	defer s.wh.mu.Unlock()
	s.wh.drop += n
}

// Deliveries returns every webhook outcome so far, in delivery order.
func (s *Server) Deliveries() []Delivery {
	s.wh.mu.Lock()
	defer s.wh.mu.Unlock()
	return slices.Clone(s.wh.done)
}

// FlushWebhooks waits until every queued webhook has been delivered, failed
// or dropped, or ctx ends. It returns ErrClosed if the server closed first.
func (s *Server) FlushWebhooks(ctx context.Context) error {
	for {
		s.wh.mu.Lock()
		idle, closed, ch := len(s.wh.pending) == 0 && s.wh.inflight == 0, s.wh.closed, s.wh.changed
		s.wh.mu.Unlock()
		switch {
		case idle:
			return nil
		case closed:
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("flush webhooks: %w", ctx.Err())
		}
	}
}

// webhookLoop runs the delivery workers (WithWebhookWorkers) until ctx ends.
func (s *Server) webhookLoop(ctx context.Context) {
	var wg sync.WaitGroup
	for range s.cfg.webhookWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.webhookWorker(ctx)
		}()
	}
	wg.Wait()
	s.finishWebhook(nil, "", true)
}

// webhookWorker delivers queued webhooks, oldest first, skipping those of a
// build whose previous webhook is still in flight, until ctx ends.
func (s *Server) webhookWorker(ctx context.Context) {
	for {
		s.wh.mu.Lock()
		i := slices.IndexFunc(s.wh.pending, func(p pendingHook) bool { return !s.wh.busy[buildKey(p.build)] })
		if i < 0 {
			s.wh.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-s.wh.wake:
			}
			continue
		}
		p := s.wh.pending[i]
		s.wh.pending = slices.Delete(s.wh.pending, i, i+1)
		drop := s.wh.drop > 0
		if drop {
			s.wh.drop--
		}
		key := buildKey(p.build)
		s.wh.busy[key] = true
		s.wh.inflight++
		more := len(s.wh.pending) > 0
		s.wh.mu.Unlock()
		if more {
			s.wakeWebhooks() // another worker may take the next one
		}

		d := Delivery{Event: p.event, Build: p.build, Dropped: drop}
		if !drop {
			d = s.deliver(ctx, p)
		}
		s.finishWebhook(&d, key, false)
	}
}

func (s *Server) wakeWebhooks() {
	select {
	case s.wh.wake <- struct{}{}:
	default:
	}
}

func buildKey(b Build) string { return b.Org + "/" + b.Pipeline + "#" + strconv.Itoa(b.Number) }

func (s *Server) finishWebhook(d *Delivery, key string, closed bool) {
	s.wh.mu.Lock()
	if d != nil {
		s.wh.done = append(s.wh.done, *d)
		delete(s.wh.busy, key)
		s.wh.inflight--
	}
	s.wh.closed = s.wh.closed || closed
	close(s.wh.changed)
	s.wh.changed = make(chan struct{})
	more := len(s.wh.pending) > 0
	s.wh.mu.Unlock()
	if more && !closed {
		s.wakeWebhooks() // the build's next webhook may go now
	}
}

// deliver POSTs one webhook, bounded by the webhook timeout and ctx.
func (s *Server) deliver(ctx context.Context, p pendingHook) Delivery {
	d := Delivery{Event: p.event, Build: p.build}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.webhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.webhookURL, bytes.NewReader(p.body))
	if err != nil {
		d.Err = err.Error()
		return d
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Buildkite-Request")
	req.Header.Set("X-Buildkite-Event", p.event)
	if s.cfg.webhookSecret != "" {
		req.Header.Set("X-Buildkite-Signature", SignatureHeader(s.cfg.webhookSecret, s.cfg.now(), p.body))
	}
	if s.cfg.webhookToken != "" {
		req.Header.Set("X-Buildkite-Token", s.cfg.webhookToken)
	}
	resp, err := s.wh.client.Do(req)
	if err != nil {
		d.Err = err.Error()
		s.log.Warn("webhook delivery failed", "event", p.event, "build", p.build.Number, "err", err)
		return d
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	d.Status = resp.StatusCode
	return d
}
