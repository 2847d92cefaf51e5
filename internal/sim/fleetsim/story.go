package fleetsim

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Kind says what a story event is about.
type Kind string

// Story event kinds.
const (
	KindStart     Kind = "start"     // the API is up (Text names where)
	KindHost      Kind = "host"      // a host's readiness changed
	KindBuild     Kind = "build"     // a build changed state
	KindPull      Kind = "pull"      // the orchestrator asked a host to pull
	KindPrune     Kind = "prune"     // a prune request, or one VM's outcome
	KindSpec      Kind = "spec"      // the simulation changed the spec
	KindJob       Kind = "job"       // a job ended on a busy host
	KindProgress  Kind = "progress"  // fleet readiness changed (Ready, Total)
	KindViolation Kind = "violation" // a safety rule was broken
	KindConverged Kind = "converged" // every host ready on the final spec
	KindNote      Kind = "note"      // anything else worth a line
)

// Event is one step of the story, as the simulation saw it on the event
// stream (or did it itself: spec changes, jobs ending).
type Event struct {
	// At is fleet time since the start.
	At   time.Duration
	Kind Kind
	Host string
	// Text is one readable line (empty for KindProgress).
	Text string
	// Ready, Total and Stale are the fleet readiness (KindProgress); Live
	// the builds in progress; StagedReady of StagedTotal hosts hold every
	// image of the staged spec (a rollout in progress; both 0 without).
	Ready, Total, Stale, Live int
	StagedReady, StagedTotal  int
}

// Narrator prints the story: one line per event, and a progress line for
// the fleet that redraws in place on a terminal and is a plain line (printed
// when it changes) in a pipe. It is safe for concurrent use.
type Narrator struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	progress string // the last progress line
	drawn    bool   // the progress line is on screen (terminal)
}

// NewNarrator writes to w; terminal says whether w is a terminal.
func NewNarrator(w io.Writer, terminal bool) *Narrator {
	return &Narrator{w: w, terminal: terminal}
}

// clearLine returns the cursor to the line start and clears the line.
const clearLine = "\r\x1b[2K"

// Observe prints one event (use it with WithObserver).
func (n *Narrator) Observe(e Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if e.Kind == KindProgress {
		if e.Total == 0 {
			return
		}
		line := fmt.Sprintf("fleet %d/%d ready", e.Ready, e.Total)
		if e.Stale > 0 {
			line += fmt.Sprintf(", %d stale", e.Stale)
		}
		if e.StagedTotal > 0 {
			line += fmt.Sprintf(", %d/%d hold the staged images", e.StagedReady, e.StagedTotal)
		}
		switch {
		case e.Live == 1:
			line += ", 1 build running"
		case e.Live > 1:
			line += fmt.Sprintf(", %d builds running", e.Live)
		}
		n.setProgress(line, e.At)
		return
	}
	if e.Text == "" {
		return
	}
	if n.terminal && n.drawn {
		io.WriteString(n.w, clearLine)
	}
	fmt.Fprintf(n.w, "%s  %s\n", clock(e.At), e.Text)
	if n.terminal && n.progress != "" {
		io.WriteString(n.w, n.progress)
		n.drawn = true
	}
}

func (n *Narrator) setProgress(line string, at time.Duration) {
	if n.terminal {
		n.progress = fmt.Sprintf("%s  %s", clock(at), line)
		io.WriteString(n.w, clearLine+n.progress)
		n.drawn = true
		return
	}
	if line == n.progress {
		return
	}
	n.progress = line
	fmt.Fprintf(n.w, "%s  %s\n", clock(at), line)
}

// Close ends the progress line on a terminal, so what follows starts on a
// line of its own.
func (n *Narrator) Close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.terminal && n.drawn {
		io.WriteString(n.w, "\n")
		n.drawn = false
	}
}

// clock formats fleet time as [hh:mm:ss].
func clock(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("[%02d:%02d:%02d]", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
}
