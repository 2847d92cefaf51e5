package buildkitefake

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// JobState is a job's state as the agent API spells it.
type JobState string

// Job states: scheduled (waiting for an agent), assigned (handed out in a
// ping), accepted, running, finished (ExitStatus says how), canceling (the
// agent is told at its next job status check) and canceled.
const (
	JobScheduled JobState = "scheduled"
	JobAssigned  JobState = "assigned"
	JobAccepted  JobState = "accepted"
	JobRunning   JobState = "running"
	JobFinished  JobState = "finished"
	JobCanceling JobState = "canceling"
	JobCanceled  JobState = "canceled"
)

// done reports whether a job in state st is over.
func (st JobState) done() bool { return st == JobFinished || st == JobCanceled }

// active reports whether an agent holds a job in state st.
func (st JobState) active() bool {
	return st == JobAssigned || st == JobAccepted || st == JobRunning || st == JobCanceling
}

// Job is a snapshot of one job of a build of a pipeline served to real
// agents (WithAgentPipeline).
type Job struct {
	ID          string
	Org         string
	Pipeline    string
	BuildNumber int
	Label       string
	StepKey     string
	Command     string
	// Agents are the step's agents rules, "key=value" each (queue=default
	// when the step names no queue).
	Agents []string
	Env    map[string]string
	State  JobState
	// AgentID is the agent the job was dispatched to ("" while scheduled).
	AgentID string
	// AgentTags are that agent's tags when it took the job.
	AgentTags []string
	// ExitStatus, Signal and SignalReason are what the agent's finish call said.
	ExitStatus   string
	Signal       string
	SignalReason string
	Log          string // the log chunks, in order of offset

	ScheduledAt, AssignedAt, StartedAt, FinishedAt time.Time

	Concurrency      int
	ConcurrencyGroup string
}

// Passed reports whether the job finished with exit status 0.
func (j Job) Passed() bool { return j.State == JobFinished && j.ExitStatus == "0" }

type jobRec struct {
	Job
	build  *Build
	chunks map[uint64]string // by offset
}

func (j *jobRec) snapshot() Job {
	out := j.Job
	out.Agents = slices.Clone(j.Agents)
	out.AgentTags = slices.Clone(j.AgentTags)
	out.Env = maps.Clone(j.Env)
	offs := slices.Sorted(maps.Keys(j.chunks))
	var b strings.Builder
	for _, o := range offs {
		b.WriteString(j.chunks[o])
	}
	out.Log = b.String()
	return out
}

// Jobs returns every job, oldest first.
func (s *Server) Jobs() []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Job, 0, len(s.jobs))
	for _, j := range s.jobs {
		out = append(out, j.snapshot())
	}
	return out
}

// BuildJobs returns the jobs of one build, in step order.
func (s *Server) BuildJobs(org, pipeline string, number int) []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Job
	for _, j := range s.jobs {
		if j.build.Org == org && j.build.Pipeline == pipeline && j.build.Number == number {
			out = append(out, j.snapshot())
		}
	}
	return out
}

// agentDriven reports whether b's state comes from agents running its jobs
// (its pipeline was given with WithAgentPipeline) rather than from Tick and
// Step. Caller holds s.mu.
func (s *Server) agentDrivenLocked(b *Build) bool { return s.agentBuilds[b.ID] }

// createJobsLocked turns a new build of an agent pipeline into jobs, its
// pipeline interpolated with the build's env. It reports whether the
// pipeline is served to agents; an error means the upload failed (the
// build fails at once, as a failing upload step fails it). Caller holds s.mu.
func (s *Server) createJobsLocked(b *Build) (bool, error) {
	src, ok := s.cfg.agentPipelines[b.Org+"/"+b.Pipeline]
	if !ok {
		return false, nil
	}
	s.agentBuilds[b.ID] = true
	env := maps.Clone(b.Env)
	for k, v := range s.buildEnv(b) {
		env[k] = v
	}
	specs, err := parsePipeline(src, env)
	if err != nil {
		return true, err
	}
	now := s.cfg.now()
	for _, sp := range specs {
		jenv := maps.Clone(b.Env)
		maps.Copy(jenv, sp.Env)
		maps.Copy(jenv, s.buildEnv(b))
		j := &jobRec{build: b, chunks: map[uint64]string{}}
		j.Job = Job{ID: newUUID(), Org: b.Org, Pipeline: b.Pipeline, BuildNumber: b.Number,
			Label: sp.Label, StepKey: sp.Key, Command: sp.Command, Agents: sp.Agents, Env: jenv,
			State: JobScheduled, ScheduledAt: now, Concurrency: sp.Concurrency, ConcurrencyGroup: sp.ConcurrencyGroup}
		jenv["BUILDKITE_JOB_ID"] = j.ID
		jenv["BUILDKITE_COMMAND"] = sp.Command
		jenv["BUILDKITE_LABEL"] = sp.Label
		jenv["BUILDKITE_STEP_KEY"] = sp.Key
		s.jobs = append(s.jobs, j)
	}
	return true, nil
}

// buildEnv is what Buildkite sets for every job of b. BUILDKITE_REPO is the
// pipeline's repository, which no test can clone: the agent that runs the
// job needs a checkout hook (realagent.Hooks) standing in for git.
func (s *Server) buildEnv(b *Build) map[string]string {
	return map[string]string{
		"BUILDKITE": "true", "CI": "true",
		"BUILDKITE_BUILD_ID": b.ID, "BUILDKITE_BUILD_NUMBER": itoa(b.Number),
		"BUILDKITE_BUILD_URL":         "https://buildkite.com/" + b.Org + "/" + b.Pipeline + "/builds/" + itoa(b.Number),
		"BUILDKITE_ORGANIZATION_SLUG": b.Org, "BUILDKITE_PIPELINE_SLUG": b.Pipeline,
		"BUILDKITE_BRANCH": b.Branch, "BUILDKITE_COMMIT": b.Commit, "BUILDKITE_MESSAGE": b.Message,
		"BUILDKITE_SOURCE": "api", "BUILDKITE_PIPELINE_PROVIDER": "github",
		"BUILDKITE_PIPELINE_DEFAULT_BRANCH": "main", "BUILDKITE_REPO": fmt.Sprintf("git@github.com:%s/%s.git", b.Org, b.Pipeline),
	}
}

// nextJobLocked picks the oldest scheduled job agent a may run: its rules
// match a's tags and its concurrency group has room. Caller holds s.mu.
func (s *Server) nextJobLocked(a *agentRec) *jobRec {
	for _, j := range s.jobs {
		if j.State != JobScheduled || !matchAgent(j.Agents, a.MetaData) {
			continue
		}
		if j.ConcurrencyGroup != "" && s.groupActiveLocked(j.ConcurrencyGroup) >= max(j.Concurrency, 1) {
			continue
		}
		return j
	}
	return nil
}

func (s *Server) groupActiveLocked(group string) int {
	n := 0
	for _, j := range s.jobs {
		if j.ConcurrencyGroup == group && j.State.active() {
			n++
		}
	}
	return n
}

// agentJobLocked is the job agent id holds, or nil.
func (s *Server) agentJobLocked(id string) *jobRec {
	for _, j := range s.jobs {
		if j.AgentID == id && j.State.active() {
			return j
		}
	}
	return nil
}

func (s *Server) jobLocked(id string) *jobRec {
	for _, j := range s.jobs {
		if j.ID == id {
			return j
		}
	}
	return nil
}

// settleBuildLocked moves j's build after a job changed: running once a job
// runs, and its outcome once every job is over (canceled if it was being
// canceled or any job was, failed if any job did not pass). It returns the
// build changes. Caller holds s.mu.
func (s *Server) settleBuildLocked(j *jobRec) []Build {
	b := j.build
	now := s.cfg.now()
	var out []Build
	if b.State == StateScheduled && (j.State == JobRunning || j.State.done()) {
		out = append(out, s.moveLocked(b, StateRunning, now))
	}
	if b.State.Finished() {
		return out
	}
	allDone, passed, canceled := true, true, b.State == StateCanceling
	for _, o := range s.jobs {
		if o.build != b {
			continue
		}
		allDone = allDone && o.State.done()
		passed = passed && o.Passed()
		canceled = canceled || o.State == JobCanceled
	}
	if !allDone {
		return out
	}
	to := StatePassed
	switch {
	case canceled:
		to = StateCanceled
	case !passed:
		to = StateFailed
	}
	return append(out, s.moveLocked(b, to, now))
}

// cancelJobsLocked follows a build's cancel to its jobs: those no agent
// runs yet are canceled, running ones are canceling (the agent learns it at
// its next job status check and finishes them). It returns build changes.
// Caller holds s.mu.
func (s *Server) cancelJobsLocked(b *Build) []Build {
	if !s.agentDrivenLocked(b) {
		return nil
	}
	now := s.cfg.now()
	var last *jobRec
	for _, j := range s.jobs {
		if j.build != b {
			continue
		}
		switch j.State {
		case JobScheduled, JobAssigned:
			j.State, j.FinishedAt = JobCanceled, now
		case JobAccepted, JobRunning:
			j.State = JobCanceling
		}
		last = j
	}
	if last == nil || b.State.Finished() {
		return nil
	}
	return s.settleBuildLocked(last)
}

// sortedTags is tags in a stable order, for logs.
func sortedTags(tags []string) []string {
	out := slices.Clone(tags)
	sort.Strings(out)
	return out
}
