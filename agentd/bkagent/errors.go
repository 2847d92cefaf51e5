package bkagent

import "errors"

// ErrInvalidOption is wrapped by errors from options, TagOptions.Validate and
// Config.Validate; the message names the setting at fault.
var ErrInvalidOption = errors.New("invalid option")

// ErrInvalidTag means a tag is not "key=value" with a key and a value
// Buildkite accepts (no commas, spaces or control characters; no '=' in the key).
var ErrInvalidTag = errors.New("invalid Buildkite agent tag")

// ErrAgentNotFound means the buildkite-agent executable was not found.
var ErrAgentNotFound = errors.New("buildkite-agent not found: install it or set buildkite.agent_command to its path")

// ErrRestart means the restart command of lever command failed; the tags file
// was written and the restart is retried on the next check.
var ErrRestart = errors.New("buildkite-agent restart command failed")

// ErrTagsFile means the tags file of lever command could not be read or written.
var ErrTagsFile = errors.New("buildkite tags file")
