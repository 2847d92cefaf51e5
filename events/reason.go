package events

import "strings"

// Reason colour classes (ReasonInfo.Class): how people are shown a reason,
// the same on the dashboard and on a terminal.
const (
	ClassOK   = "ok"   // ready (green)
	ClassBad  = "bad"  // not ready and nothing an operator chose (red)
	ClassWarn = "warn" // an override, or almost there (yellow)
)

// ReasonInfo is what a readiness reason means; Reason.Info looks it up.
type ReasonInfo struct {
	// Known is false for a reason not in this table (from a newer agent):
	// it means not ready, and nothing else.
	Known bool
	// Ready: the release may run jobs.
	Ready bool
	// Missing: the expected image is not on the host; a pull or a build
	// makes it.
	Missing bool
	// Error: the host could not be checked (tart failed); never ready,
	// whatever the status says.
	Error bool
	// Forced: an operator's override decided.
	Forced bool
	// Label is a short human label ("image missing").
	Label string
	// Class is the colour class (ClassOK, ClassBad, ClassWarn).
	Class string
}

var reasonTable = map[Reason]ReasonInfo{
	ReasonReady:             {Known: true, Ready: true, Label: "ready", Class: ClassOK},
	ReasonImageMissing:      {Known: true, Missing: true, Label: "image missing", Class: ClassBad},
	ReasonBootstrapMismatch: {Known: true, Missing: true, Label: "bootstrap mismatch", Class: ClassWarn},
	ReasonTartError:         {Known: true, Error: true, Label: "tart error", Class: ClassBad},
	ReasonForcedReady:       {Known: true, Ready: true, Forced: true, Label: "forced ready", Class: ClassWarn},
	ReasonForcedNotReady:    {Known: true, Forced: true, Label: "forced not ready", Class: ClassWarn},
	// Staged statuses only: not Missing, since no pull or build is to
	// make the image before promotion (the agent refuses one).
	ReasonNoSpace: {Known: true, Label: "no space", Class: ClassWarn},
}

// Info is what r means. A reason not in the table (a newer agent's) is not
// ready, labelled with its own words, in ClassWarn.
func (r Reason) Info() ReasonInfo {
	if in, ok := reasonTable[r]; ok {
		return in
	}
	return ReasonInfo{Label: strings.ReplaceAll(string(r), "_", " "), Class: ClassWarn}
}

// Valid reports whether r is a known reason.
func (r Reason) Valid() bool { _, ok := reasonTable[r]; return ok }

// WellFormed reports whether r could be a reason at all, known or not: 1 to
// 64 lower-case letters, digits or '_'. A health event may carry a
// well-formed reason this version does not know (a newer agent's); it is
// taken as not ready.
func (r Reason) WellFormed() bool {
	if r == "" || len(r) > 64 {
		return false
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
			return false
		}
	}
	return true
}
