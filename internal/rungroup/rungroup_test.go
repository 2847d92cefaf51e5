package rungroup_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

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
			g.Go(func() error { return tt.first })
			// A sibling still running sees the group's context end, or not.
			sibling := make(chan bool, 1)
			g.Go(func() error {
				select {
				case <-ctx.Done():
					sibling <- true
				case <-time.After(time.Second):
					sibling <- false // not canceled in a second: nothing will cancel it
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

func TestDrain(t *testing.T) {
	t.Parallel()
	var order []int
	if rungroup.Drain(time.Hour, func() { t.Error("abandoned work that finished") }, func() { order = append(order, 1) }, func() { order = append(order, 2) }) {
		t.Error("Got(Drain of finished work) = abandoned, want not")
	}
	if len(order) != 2 || order[0] != 1 || order[1] != 2 {
		t.Errorf("Got(waits run) = %v, want [1 2]", order)
	}
	stuck := make(chan struct{})
	abandoned := false
	got := rungroup.Drain(time.Millisecond, func() { abandoned = true; close(stuck) }, func() { <-stuck })
	if !got || !abandoned {
		t.Errorf("Got(Drain of stuck work) = %v (abandon called %v), want abandoned", got, abandoned)
	}
}
