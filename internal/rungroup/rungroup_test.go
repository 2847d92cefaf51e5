package rungroup_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/vmfleet/vmfleet/internal/rungroup"
)

func TestGroup(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name        string
		first       error // returned by the first goroutine at once
		wantErr     error
		wantSibling bool // whether the blocked sibling was canceled by the first's return
	}{
		{name: "nil leaves siblings running", first: nil, wantErr: nil, wantSibling: false},
		{name: "an error ends the group", first: boom, wantErr: boom, wantSibling: true},
		{name: "a wrapped error is kept as is", first: fmt.Errorf("loop: %w", boom), wantErr: boom, wantSibling: true},
		{name: "canceled ends the group without an error", first: context.Canceled, wantErr: nil, wantSibling: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, ctx := rungroup.New(context.Background())
			returned := make(chan struct{})
			g.Go(func() error { defer close(returned); return tt.first })
			<-returned
			sibling := make(chan bool, 1)
			g.Go(func() error {
				select {
				case <-ctx.Done():
					sibling <- true
				default:
					sibling <- false
				}
				return nil
			})
			if got := <-sibling; got != tt.wantSibling {
				t.Errorf("Got(sibling canceled) = %v, want %v", got, tt.wantSibling)
			}
			err := g.Wait()
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("Got(Wait) = %v, want %v", err, tt.wantErr)
			}
			if ctx.Err() == nil {
				t.Error("Got(ctx after Wait) = live, want canceled")
			}
		})
	}
}

func TestGroupKeepsTheFirstError(t *testing.T) {
	g, ctx := rungroup.New(context.Background())
	first, second := errors.New("first"), errors.New("second")
	g.Go(func() error { return first })
	g.Go(func() error { <-ctx.Done(); return second })
	if err := g.Wait(); !errors.Is(err, first) {
		t.Errorf("Got(Wait) = %v, want %v", err, first)
	}
}

func TestGroupEndsWithItsParent(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	g, ctx := rungroup.New(parent)
	g.Go(func() error { <-ctx.Done(); return ctx.Err() })
	cancel()
	if err := g.Wait(); err != nil {
		t.Errorf("Got(Wait after the parent ended) = %v, want nil", err)
	}
}
