package redact

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// MinSecretLen is the shortest value Handler masks: shorter ones would mask
// ordinary words and protect nothing.
const MinSecretLen = 4

// secrets is the set of values a Handler and its children mask.
type secrets struct {
	mu   sync.Mutex
	vals []string
	rep  atomic.Pointer[strings.Replacer]
}

func (s *secrets) add(vals ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range vals {
		v = strings.TrimSpace(v)
		if len(v) >= MinSecretLen && !slices.Contains(s.vals, v) {
			s.vals = append(s.vals, v)
		}
	}
	// Longest first, so a secret containing another is masked whole.
	slices.SortFunc(s.vals, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(s.vals))
	for _, v := range s.vals {
		pairs = append(pairs, v, Mask)
	}
	s.rep.Store(strings.NewReplacer(pairs...))
}

// Scrub masks every known secret and every URL password in text.
func (s *secrets) scrub(text string) string {
	if r := s.rep.Load(); r != nil {
		text = r.Replace(text)
	}
	return scrubURLs(text)
}

// Handler masks secrets in records before handing them on. Make it with
// NewHandler; Add (or the package function Add) teaches it values once they
// are read, for it and every handler derived from it.
type Handler struct {
	next slog.Handler
	set  *secrets
}

// NewHandler wraps next; secrets may be given now or later with Add.
func NewHandler(next slog.Handler, vals ...string) *Handler {
	h := &Handler{next: next, set: &secrets{}}
	h.set.add(vals...)
	return h
}

// Add teaches h (and its WithAttrs/WithGroup children) more values to mask.
func (h *Handler) Add(vals ...string) { h.set.add(vals...) }

// Scrub masks what h knows in text (for output that does not go through slog).
func (h *Handler) Scrub(text string) string { return h.set.scrub(text) }

// Add teaches l's Handler more values to mask; it reports false when l does
// not log through a Handler.
func Add(l *slog.Logger, vals ...string) bool {
	if h, ok := l.Handler().(*Handler); ok {
		h.Add(vals...)
		return true
	}
	return false
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.set.scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(as))
	for i, a := range as {
		clean[i] = h.attr(a)
	}
	return &Handler{next: h.next.WithAttrs(clean), set: h.set}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), set: h.set}
}

// attr masks one attribute. Values whose text holds no secret are passed on
// unchanged, so the next handler formats them as usual.
func (h *Handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.set.scrub(v.String()))
	case slog.KindGroup:
		g := v.Group()
		clean := make([]any, len(g))
		for i, x := range g {
			clean[i] = h.attr(x)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		var text string
		switch x := v.Any().(type) {
		case error:
			text = x.Error()
		case fmt.Stringer:
			text = x.String()
		default:
			text = fmt.Sprintf("%+v", x)
		}
		if clean := h.set.scrub(text); clean != text {
			return slog.String(a.Key, clean)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
