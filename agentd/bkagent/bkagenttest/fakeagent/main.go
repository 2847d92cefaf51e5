// Command fakeagent is a fake buildkite-agent for process-level tests; tests
// get it with bkagenttest.BuildExecutable. All logic is in bkagenttest.Main.
package main

import "github.com/vmfleet/vmfleet/agentd/bkagent/bkagenttest"

func main() { bkagenttest.Main() }
