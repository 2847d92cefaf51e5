package buildkitefake

import (
	"crypto/rand"
	"fmt"
	"maps"
	"time"

	"github.com/vmfleet/vmfleet/events"
)

// State is a Buildkite build state as the REST API spells it.
type State string

// Build states the fake produces.
const (
	StateScheduled State = "scheduled"
	StateRunning   State = "running"
	StatePassed    State = "passed"
	StateFailed    State = "failed"
	StateCanceling State = "canceling"
	StateCanceled  State = "canceled"
)

// Finished reports whether a build in state s is over (passed, failed, canceled).
func (s State) Finished() bool {
	return s == StatePassed || s == StateFailed || s == StateCanceled
}

// Build is a snapshot of one build. Maps are copies: changing them changes nothing.
type Build struct {
	ID       string
	Number   int
	Org      string
	Pipeline string
	State    State
	Commit   string
	Branch   string
	Message  string
	Env      map[string]string
	MetaData map[string]string

	CreatedAt   time.Time
	ScheduledAt time.Time
	StartedAt   time.Time // zero until running
	FinishedAt  time.Time // zero until finished
}

// Key is the build's vmfleet idempotency key (meta-data events.MetaKey).
func (b Build) Key() string { return b.MetaData[events.MetaKey] }

func (b Build) clone() Build {
	b.Env = maps.Clone(b.Env)
	b.MetaData = maps.Clone(b.MetaData)
	return b
}

// Author of a build as the API reports it.
type wireUser struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Email     string  `json:"email,omitempty"`
	AvatarURL string  `json:"avatar_url,omitempty"`
	CreatedAt *string `json:"created_at,omitempty"`
}

type wirePipeline struct {
	ID         string  `json:"id"`
	GraphQLID  string  `json:"graphql_id"`
	URL        string  `json:"url"`
	WebURL     string  `json:"web_url"`
	Name       string  `json:"name"`
	Slug       string  `json:"slug"`
	Repository string  `json:"repository"`
	BuildsURL  string  `json:"builds_url"`
	Default    string  `json:"default_branch"`
	CreatedAt  *string `json:"created_at"`
}

type wireBuild struct {
	ID           string            `json:"id"`
	GraphQLID    string            `json:"graphql_id"`
	URL          string            `json:"url"`
	WebURL       string            `json:"web_url"`
	Number       int               `json:"number"`
	State        State             `json:"state"`
	Blocked      bool              `json:"blocked"`
	CancelReason *string           `json:"cancel_reason"`
	Message      string            `json:"message"`
	Commit       string            `json:"commit"`
	Branch       string            `json:"branch"`
	Env          map[string]string `json:"env"`
	Source       string            `json:"source"`
	Creator      wireUser          `json:"creator"`
	Jobs         *[]struct{}       `json:"jobs,omitempty"`
	CreatedAt    *string           `json:"created_at"`
	ScheduledAt  *string           `json:"scheduled_at"`
	StartedAt    *string           `json:"started_at"`
	FinishedAt   *string           `json:"finished_at"`
	MetaData     map[string]string `json:"meta_data"`
	RebuiltFrom  *struct{}         `json:"rebuilt_from"`
	Pipeline     wirePipeline      `json:"pipeline"`
}

// pipelineRec is a pipeline the fake has seen.
type pipelineRec struct {
	id      string
	org     string
	slug    string
	created time.Time
}

// apiTime formats like the real API: UTC, millisecond precision; nil for zero.
func apiTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	return &s
}

func (s *Server) pipelineJSON(p *pipelineRec) wirePipeline {
	path := fmt.Sprintf("v2/organizations/%s/pipelines/%s", p.org, p.slug)
	return wirePipeline{
		ID:         p.id,
		GraphQLID:  "UGlwZWxpbmUtLS0" + p.id,
		URL:        s.baseURL + path,
		WebURL:     fmt.Sprintf("https://buildkite.com/%s/%s", p.org, p.slug),
		Name:       p.slug,
		Slug:       p.slug,
		Repository: fmt.Sprintf("git@github.com:%s/%s.git", p.org, p.slug),
		BuildsURL:  s.baseURL + path + "/builds",
		Default:    "main",
		CreatedAt:  apiTime(p.created),
	}
}

// buildJSON renders b; withJobs adds the (empty) jobs list the REST API has
// and webhooks lack.
func (s *Server) buildJSON(b Build, p *pipelineRec, withJobs bool) wireBuild {
	w := wireBuild{
		ID:          b.ID,
		GraphQLID:   "QnVpbGQtLS0" + b.ID,
		URL:         fmt.Sprintf("%sv2/organizations/%s/pipelines/%s/builds/%d", s.baseURL, b.Org, b.Pipeline, b.Number),
		WebURL:      fmt.Sprintf("https://buildkite.com/%s/%s/builds/%d", b.Org, b.Pipeline, b.Number),
		Number:      b.Number,
		State:       b.State,
		Message:     b.Message,
		Commit:      b.Commit,
		Branch:      b.Branch,
		Env:         orEmpty(b.Env),
		Source:      "api",
		Creator:     wireUser{ID: fakeUserID, Name: "vmfleet fake", Email: "fake@vmfleet.invalid"},
		CreatedAt:   apiTime(b.CreatedAt),
		ScheduledAt: apiTime(b.ScheduledAt),
		StartedAt:   apiTime(b.StartedAt),
		FinishedAt:  apiTime(b.FinishedAt),
		MetaData:    orEmpty(b.MetaData),
		Pipeline:    s.pipelineJSON(p),
	}
	if withJobs {
		w.Jobs = &[]struct{}{}
	}
	return w
}

const fakeUserID = "3d3c3bf0-7d58-4afe-8fe7-b3017d5504de"

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// newUUID returns a random RFC 4122 version 4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
