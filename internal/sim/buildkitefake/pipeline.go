package buildkitefake

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// jobSpec is one command step of an uploaded pipeline, its values
// interpolated: what a job of it runs and which agents may run it.
type jobSpec struct {
	Label            string
	Key              string
	Command          string
	Agents           []string // "key=value" rules, queue=default added when absent
	Env              map[string]string
	Concurrency      int
	ConcurrencyGroup string
}

// errInterpolate marks a pipeline that parses but whose interpolation
// failed (${VAR:?message} with VAR unset): a failed upload for a build, not
// a bad pipeline file.
var errInterpolate = errors.New("pipeline upload")

// stepDef is the part of a pipeline step the fake reads; other keys are
// accepted and ignored (as timeouts, retries and plugins are here).
type stepDef struct {
	Label            string            `yaml:"label"`
	Name             string            `yaml:"name"`
	Key              string            `yaml:"key"`
	Command          yaml.Node         `yaml:"command"`
	Commands         yaml.Node         `yaml:"commands"`
	Agents           yaml.Node         `yaml:"agents"`
	Env              map[string]string `yaml:"env"`
	Concurrency      int               `yaml:"concurrency"`
	ConcurrencyGroup string            `yaml:"concurrency_group"`
}

type pipelineDef struct {
	Env    map[string]string `yaml:"env"`
	Agents yaml.Node         `yaml:"agents"`
	Steps  []yaml.Node       `yaml:"steps"`
}

// parsePipeline reads a pipeline file as `buildkite-agent pipeline upload`
// would with env: every string value interpolated ($VAR, ${VAR},
// ${VAR:-default}, ${VAR-default}, $$ for a literal $), then its command
// steps. Wait and block steps are ignored: the fake runs every command step
// of a build at once.
func parsePipeline(src []byte, env map[string]string) ([]jobSpec, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, fmt.Errorf("parse pipeline: %w", err)
	}
	if err := interpolateNode(&root, env); err != nil {
		return nil, fmt.Errorf("%w: %w", errInterpolate, err)
	}
	var def pipelineDef
	if err := root.Decode(&def); err != nil {
		return nil, fmt.Errorf("parse pipeline: %w", err)
	}
	defAgents, err := agentRules(&def.Agents)
	if err != nil {
		return nil, err
	}
	var out []jobSpec
	for i := range def.Steps {
		n := &def.Steps[i]
		if n.Kind == yaml.ScalarNode { // "wait", "block"
			continue
		}
		var st stepDef
		if err := n.Decode(&st); err != nil {
			return nil, fmt.Errorf("parse pipeline step %d: %w", i+1, err)
		}
		cmd, err := commandOf(&st)
		if err != nil {
			return nil, fmt.Errorf("pipeline step %d: %w", i+1, err)
		}
		if cmd == "" {
			continue // not a command step (wait, block, trigger, group)
		}
		rules, err := agentRules(&st.Agents)
		if err != nil {
			return nil, fmt.Errorf("pipeline step %d: %w", i+1, err)
		}
		if len(rules) == 0 {
			rules = slices.Clone(defAgents)
		}
		if !slices.ContainsFunc(rules, func(r string) bool { return strings.HasPrefix(r, "queue=") }) {
			rules = append(rules, "queue=default")
		}
		env := map[string]string{}
		for k, v := range def.Env {
			env[k] = v
		}
		for k, v := range st.Env {
			env[k] = v
		}
		label := st.Label
		if label == "" {
			label = st.Name
		}
		out = append(out, jobSpec{Label: label, Key: st.Key, Command: cmd, Agents: rules, Env: env,
			Concurrency: st.Concurrency, ConcurrencyGroup: st.ConcurrencyGroup})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("parse pipeline: no command step")
	}
	return out, nil
}

func commandOf(st *stepDef) (string, error) {
	var lines []string
	for _, n := range []*yaml.Node{&st.Command, &st.Commands} {
		switch n.Kind {
		case 0:
		case yaml.ScalarNode:
			lines = append(lines, n.Value)
		case yaml.SequenceNode:
			for _, c := range n.Content {
				lines = append(lines, c.Value)
			}
		default:
			return "", fmt.Errorf("command is neither a string nor a list")
		}
	}
	return strings.Join(lines, "\n"), nil
}

// agentRules reads an agents: block, a map or a list of "key=value".
func agentRules(n *yaml.Node) ([]string, error) {
	var out []string
	switch n.Kind {
	case 0:
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			out = append(out, n.Content[i].Value+"="+n.Content[i+1].Value)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if !strings.Contains(c.Value, "=") {
				return nil, fmt.Errorf("agents rule %q is not key=value", c.Value)
			}
			out = append(out, c.Value)
		}
	default:
		return nil, fmt.Errorf("agents is neither a map nor a list")
	}
	return out, nil
}

// interpolateNode interpolates every string scalar under n (keys included,
// comments not).
func interpolateNode(n *yaml.Node, env map[string]string) error {
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!str" || n.Tag == "") {
		v, err := interpolate(n.Value, env)
		if err != nil {
			return err
		}
		n.Value = v
	}
	for _, c := range n.Content {
		if err := interpolateNode(c, env); err != nil {
			return err
		}
	}
	return nil
}

// interpolate expands $VAR, ${VAR}, ${VAR:-default} (default when unset or
// empty), ${VAR-default} (when unset), ${VAR:?message} (an error when unset
// or empty) and $$ (a literal $), as pipeline upload does. An unset
// variable is empty.
func interpolate(s string, env map[string]string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		next := s[i+1]
		switch {
		case next == '$':
			b.WriteByte('$')
			i++
		case next == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("interpolate %q: unterminated ${", s)
			}
			expr := s[i+2 : i+2+end]
			v, err := expand(expr, env)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			i += 2 + end
		case isNameStart(next):
			j := i + 1
			for j < len(s) && isNameByte(s[j]) {
				j++
			}
			b.WriteString(env[s[i+1:j]])
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func expand(expr string, env map[string]string) (string, error) {
	j := 0
	for j < len(expr) && isNameByte(expr[j]) {
		j++
	}
	name, op := expr[:j], expr[j:]
	v, set := env[name]
	switch {
	case op == "":
		return v, nil
	case strings.HasPrefix(op, ":-"):
		if v == "" {
			return interpolate(op[2:], env)
		}
		return v, nil
	case strings.HasPrefix(op, "-"):
		if !set {
			return interpolate(op[1:], env)
		}
		return v, nil
	case strings.HasPrefix(op, ":?"):
		if v == "" {
			return "", fmt.Errorf("interpolate: $%s: %s", name, op[2:])
		}
		return v, nil
	}
	return "", fmt.Errorf("interpolate: unsupported ${%s}", expr)
}

func isNameStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isNameByte(c byte) bool { return isNameStart(c) || c >= '0' && c <= '9' }

// matchAgent reports whether an agent with tags ("key=value") may run a job
// with rules ("key=value"), as Buildkite matches them: every rule's key must
// be among the agent's tags with a value the rule's matches, where '*' in
// the rule matches any run of characters; an agent without a queue tag is
// in queue "default".
func matchAgent(rules, tags []string) bool {
	have := map[string][]string{}
	for _, t := range tags {
		k, v, _ := strings.Cut(t, "=")
		have[k] = append(have[k], v)
	}
	if len(have["queue"]) == 0 {
		have["queue"] = []string{"default"}
	}
	for _, r := range rules {
		k, want, _ := strings.Cut(r, "=")
		if !slices.ContainsFunc(have[k], func(v string) bool { return globMatch(want, v) }) {
			return false
		}
	}
	return true
}

// tagEnvName is the job env name Buildkite gives an agent tag: BUILDKITE_AGENT_META_DATA_<KEY>.
func tagEnvName(key string) string {
	return "BUILDKITE_AGENT_META_DATA_" + strings.ToUpper(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, key))
}

func itoa(n int) string { return strconv.Itoa(n) }
