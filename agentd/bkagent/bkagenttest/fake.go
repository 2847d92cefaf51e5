package bkagenttest

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// EnvState names the fake's state directory.
const EnvState = "FAKEBK_STATE"

// Files in the state directory.
const (
	fileEvents   = "events.log"   // "<run> <kind>" lines, appended
	fileStarts   = "starts.jsonl" // one Start per line
	fileHold     = "hold"         // while it exists, a job in progress does not finish
	fileCrash    = "crash"        // a count: that many next starts crash at once
	fileCrashNow = "crash-now"    // the running fake crashes (and removes the file)
)

// Event kinds written to the events log, in the order a run writes them.
const (
	KindStart    = "start"
	KindCrash    = "crash"
	KindJob      = "job-running"
	KindSigterm  = "sigterm"
	KindSigquit  = "sigquit"
	KindFinished = "job-finished"
	KindCanceled = "job-canceled"
	KindExit     = "exit"
)

// Start is how the fake was started, once per run.
type Start struct {
	Run     int      `json:"run"`
	PID     int      `json:"pid"`
	Argv    []string `json:"argv"`
	TagsEnv string   `json:"tags_env"`
}

// TagsFlag returns the value of --tags in Argv ("" when absent).
func (s Start) TagsFlag() string {
	for i, a := range s.Argv {
		if a == "--tags" && i+1 < len(s.Argv) {
			return s.Argv[i+1]
		}
		if v, ok := strings.CutPrefix(a, "--tags="); ok {
			return v
		}
	}
	return ""
}

// poll is how often the fake looks at its control files.
const poll = 5 * time.Millisecond

// Main is the fake buildkite-agent's main function.
func Main() {
	// Handle signals before anything else, as the real agent does early.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT)
	os.Exit(run(os.Args, os.Getenv(EnvState), sigs, os.Stdout, os.Stderr))
}

func run(argv []string, dir string, sigs <-chan os.Signal, stdout, stderr io.Writer) int {
	if dir == "" {
		fmt.Fprintf(stderr, "fake buildkite-agent: %s is not set\n", EnvState)
		return 1
	}
	n := countLines(filepath.Join(dir, fileStarts)) + 1
	rec, _ := json.Marshal(Start{Run: n, PID: os.Getpid(), Argv: argv, TagsEnv: os.Getenv("BUILDKITE_AGENT_TAGS")})
	appendLine(filepath.Join(dir, fileStarts), string(rec))
	ev := func(kind string) { appendLine(filepath.Join(dir, fileEvents), fmt.Sprintf("%d %s", n, kind)) }
	ev(KindStart)
	fmt.Fprintf(stdout, "fake buildkite-agent run %d started\nwith tags %s\n", n, os.Getenv("BUILDKITE_AGENT_TAGS"))
	fmt.Fprintf(stderr, "fake buildkite-agent run %d: stderr works", n) // no newline: flushed at exit
	if takeCrash(dir) {
		ev(KindCrash)
		return 3
	}
	ev(KindJob)
	tick := time.NewTicker(poll)
	defer tick.Stop()
	terms := 0
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGQUIT {
				ev(KindSigquit)
				ev(KindCanceled)
				ev(KindExit)
				return 0
			}
			terms++
			ev(KindSigterm)
			if terms >= 2 {
				ev(KindCanceled)
				ev(KindExit)
				return 0
			}
		case <-tick.C:
			if terms == 0 && os.Remove(filepath.Join(dir, fileCrashNow)) == nil {
				ev(KindCrash)
				return 2
			}
			if terms == 1 && !exists(filepath.Join(dir, fileHold)) {
				ev(KindFinished)
				ev(KindExit)
				return 0
			}
		}
	}
}

// takeCrash consumes one crash from the count, if any.
func takeCrash(dir string) bool {
	p := filepath.Join(dir, fileCrash)
	b, err := os.ReadFile(p)
	if err != nil {
		return false
	}
	k, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if k <= 0 {
		return false
	}
	_ = os.WriteFile(p, []byte(strconv.Itoa(k-1)), 0o644)
	return true
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func countLines(p string) int {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\n")
}

// appendLine appends one line with a single write (O_APPEND).
func appendLine(p, line string) {
	f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	_, _ = f.WriteString(line + "\n")
	_ = f.Close()
}
