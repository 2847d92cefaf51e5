package deploy_test

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// loadedBy names, for every file under deploy/, the test that parses it.
// TestEveryDeployFileIsLoaded fails on a file missing here, so a new file
// comes with its test.
var loadedBy = map[string]string{
	"doc.go":                               "(package doc)",
	"deploy_test.go":                       "(this test)",
	"launchd/dev.vmfleet.agent.plist":      "deploy/deploy_test.go TestLaunchdPlist",
	"systemd/vmfleet-orchestrator.service": "deploy/deploy_test.go TestSystemdUnit",
	"docker/Dockerfile":                    "deploy/deploy_test.go TestDockerfile",
	"docker/Dockerfile.dockerignore":       "deploy/deploy_test.go TestDockerignore",
	"config/agent.yaml":                    "cmd/vmfleet/deploy_config_test.go TestDeployConfigsLoad",
	"config/orchestrator.yaml":             "cmd/vmfleet/deploy_config_test.go TestDeployConfigsLoad",
	"nats/README.md":                       "(documentation)",
	"nats/nats-server.conf":                "internal/natsauth/deploy_test.go",
	"nats/cluster/n1.conf":                 "internal/natsauth/deploy_test.go",
	"nats/cluster/n2.conf":                 "internal/natsauth/deploy_test.go",
	"nats/cluster/n3.conf":                 "internal/natsauth/deploy_test.go",
	"nats/cluster/cluster-routes.conf":     "internal/natsauth/deploy_test.go",
	"buildkite/build-macos-vm.yml":         "agentd/bkagent/pipeline_test.go",
	"buildkite/example-pipeline.yml":       "agentd/bkagent/pipeline_test.go",
}

func TestEveryDeployFileIsLoaded(t *testing.T) {
	var files []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files = append(files, filepath.ToSlash(p))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		by, ok := loadedBy[f]
		if !ok {
			t.Errorf("Got(deploy/%s) = no test loads it, want a test that parses it (and a line in loadedBy)", f)
			continue
		}
		// Another package's test must exist and name the file.
		if strings.HasPrefix(by, "(") {
			continue
		}
		path, _, _ := strings.Cut(by, " ")
		src, err := os.ReadFile(filepath.Join("..", path))
		if err != nil {
			t.Errorf("Got(%s, the test of deploy/%s) = %v, want the test file", path, f, err)
			continue
		}
		// The file's name, or for generated names its directory's.
		if base, dir := filepath.Base(f), filepath.Base(filepath.Dir(f)); !strings.Contains(string(src), base) && !strings.Contains(string(src), `"`+dir+`"`) {
			t.Errorf("Got(%s) = does not mention %s, want the test that loads it", path, f)
		}
	}
	for f := range loadedBy {
		if !slices.Contains(files, f) {
			t.Errorf("Got(deploy/%s) = missing, want the file loadedBy names (or drop the line)", f)
		}
	}
}

// plistValue is one decoded property-list value.
type plistValue struct {
	kind  string // string, integer, true, false, array, dict
	text  string
	array []plistValue
	dict  map[string]plistValue
}

func decodePlistValue(d *xml.Decoder, start xml.StartElement) (plistValue, error) {
	v := plistValue{kind: start.Name.Local}
	switch v.kind {
	case "true", "false":
		return v, d.Skip()
	case "string", "integer", "real", "date", "data":
		var s string
		err := d.DecodeElement(&s, &start)
		v.text = s
		return v, err
	case "array", "dict":
		if v.kind == "dict" {
			v.dict = map[string]plistValue{}
		}
		key := ""
		for {
			tok, err := d.Token()
			if err != nil {
				return v, err
			}
			switch tok := tok.(type) {
			case xml.EndElement:
				return v, nil
			case xml.StartElement:
				if v.kind == "dict" && tok.Name.Local == "key" {
					if err := d.DecodeElement(&key, &tok); err != nil {
						return v, err
					}
					continue
				}
				child, err := decodePlistValue(d, tok)
				if err != nil {
					return v, err
				}
				if v.kind == "array" {
					v.array = append(v.array, child)
				} else if key == "" {
					return v, fmt.Errorf("dict value <%s> without a key", tok.Name.Local)
				} else {
					if _, dup := v.dict[key]; dup {
						return v, fmt.Errorf("duplicate key %q", key)
					}
					v.dict[key] = child
					key = ""
				}
			}
		}
	}
	return v, fmt.Errorf("unknown plist element <%s>", v.kind)
}

// readPlist parses an XML property list whose root is a dict.
func readPlist(t *testing.T, path string) map[string]plistValue {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := xml.NewDecoder(f)
	d.Strict = true
	for {
		tok, err := d.Token()
		if err == io.EOF {
			t.Fatalf("%s: no <plist><dict>", path)
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "dict" {
			v, err := decodePlistValue(d, se)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			return v.dict
		}
	}
}

func TestLaunchdPlist(t *testing.T) {
	p := readPlist(t, "launchd/dev.vmfleet.agent.plist")
	str := func(k string) string { return p[k].text }
	if got := str("Label"); got != "dev.vmfleet.agent" {
		t.Errorf("Got(Label) = %q, want dev.vmfleet.agent (the file name)", got)
	}
	var args []string
	for _, a := range p["ProgramArguments"].array {
		args = append(args, a.text)
	}
	if len(args) != 5 || filepath.Base(args[0]) != "vmfleet" || !slices.Equal(args[1:4], []string{"agent", "run", "--config"}) ||
		filepath.Base(args[4]) != "agent.yaml" {
		t.Errorf("Got(ProgramArguments) = %q, want [.../vmfleet agent run --config .../agent.yaml]", args)
	}
	env := p["EnvironmentVariables"].dict
	if got := env["TART_NO_AUTO_PRUNE"].text; got != "1" {
		t.Errorf("Got(EnvironmentVariables.TART_NO_AUTO_PRUNE) = %q, want \"1\": tart's auto-prune would fight vmfleet", got)
	}
	if !strings.Contains(env["PATH"].text, "/opt/homebrew/bin") {
		t.Errorf("Got(EnvironmentVariables.PATH) = %q, want Homebrew's bin (tart, buildkite-agent)", env["PATH"].text)
	}
	if p["KeepAlive"].kind != "true" || p["RunAtLoad"].kind != "true" {
		t.Errorf("Got(KeepAlive, RunAtLoad) = %s, %s, want true, true", p["KeepAlive"].kind, p["RunAtLoad"].kind)
	}
	if n, err := strconv.Atoi(str("ExitTimeOut")); err != nil || n < 600 {
		t.Errorf("Got(ExitTimeOut) = %q, want at least 600 s so buildkite-agent can finish its job", str("ExitTimeOut"))
	}
	for _, k := range []string{"StandardOutPath", "StandardErrorPath", "UserName"} {
		if !strings.HasPrefix(str(k), "/") && k != "UserName" || str(k) == "" {
			t.Errorf("Got(%s) = %q, want it set", k, str(k))
		}
	}
}

// unit is a systemd unit file: section → key → values (keys may repeat).
type unit map[string]map[string][]string

func readUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u, section := unit{}, ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			if u[section] != nil {
				t.Errorf("%s:%d: section [%s] twice", path, n, section)
			}
			u[section] = map[string][]string{}
		case section == "":
			t.Fatalf("%s:%d: %q before any section", path, n, line)
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || strings.TrimSpace(k) == "" || strings.HasSuffix(line, "\\") {
				t.Fatalf("%s:%d: %q is not KEY=VALUE", path, n, line)
			}
			k = strings.TrimSpace(k)
			u[section][k] = append(u[section][k], strings.TrimSpace(v))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestSystemdUnit(t *testing.T) {
	u := readUnit(t, "systemd/vmfleet-orchestrator.service")
	svc := u["Service"]
	one := func(k string) string {
		if len(svc[k]) != 1 {
			t.Errorf("Got([Service] %s) = %q, want exactly one", k, svc[k])
			return ""
		}
		return svc[k][0]
	}
	exec := strings.Fields(one("ExecStart"))
	if len(exec) < 4 || filepath.Base(exec[0]) != "vmfleet" || exec[1] != "orchestrator" || exec[2] != "--config" || filepath.Base(exec[3]) != "orchestrator.yaml" {
		t.Errorf("Got(ExecStart) = %q, want .../vmfleet orchestrator --config .../orchestrator.yaml", exec)
	}
	if user := one("User"); user == "" || user == "root" || user == "0" {
		t.Errorf("Got(User) = %q, want a non-root user", user)
	}
	want := map[string]string{
		"KillMode": "mixed", "StateDirectory": "vmfleet", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
		"ProtectHome": "yes", "PrivateTmp": "yes", "CapabilityBoundingSet": "", "Restart": "on-failure", "DynamicUser": "yes",
	}
	for k, v := range want {
		if got := one(k); got != v {
			t.Errorf("Got([Service] %s) = %q, want %q", k, got, v)
		}
	}
	if s, err := strconv.Atoi(one("TimeoutStopSec")); err != nil || s < 15 {
		t.Errorf("Got(TimeoutStopSec) = %q, want at least 15 s (drain, then hand the lease back)", one("TimeoutStopSec"))
	}
	// Secrets come as credentials, and the orchestrator is pointed at them.
	creds := map[string]bool{}
	for _, c := range svc["LoadCredential"] {
		id, path, ok := strings.Cut(c, ":")
		if !ok || !strings.HasPrefix(path, "/") {
			t.Errorf("Got(LoadCredential=%s), want ID:/absolute/path", c)
		}
		creds[id] = true
	}
	for _, e := range svc["Environment"] {
		k, v, _ := strings.Cut(e, "=")
		if strings.HasSuffix(k, "_FILE") || strings.HasSuffix(k, "_SEED") {
			id, ok := strings.CutPrefix(v, "%d/")
			if !ok || !creds[id] {
				t.Errorf("Got(Environment=%s), want %%d/<id> of a LoadCredential", e)
			}
		}
		if strings.Contains(strings.ToLower(k), "token") && !strings.HasSuffix(k, "_FILE") {
			t.Errorf("Got(Environment=%s) = a secret in the unit, want it in a credential", e)
		}
	}
	if len(creds) < 3 {
		t.Errorf("Got(LoadCredential) = %v, want the Buildkite token, webhook secret and API token", creds)
	}
	if got := u["Install"]["WantedBy"]; !slices.Equal(got, []string{"multi-user.target"}) {
		t.Errorf("Got([Install] WantedBy) = %q, want multi-user.target", got)
	}
	if diff := cmp.Diff([]string{"network-online.target"}, u["Unit"]["Wants"]); diff != "" {
		t.Errorf("Got([Unit] Wants) diff (-want +got):\n%s", diff)
	}
}

// instruction is one Dockerfile instruction with continuations joined.
type instruction struct {
	line int
	cmd  string
	args string
}

func readDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	start := 0
	for i, raw := range strings.Split(string(b), "\n") {
		line := strings.TrimSpace(raw)
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasPrefix(line, "#") {
			continue // a comment inside a continuation
		}
		if s, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	if cur.Len() > 0 {
		t.Fatalf("%s: ends inside a continuation", path)
	}
	return out
}

func TestDockerfile(t *testing.T) {
	ins := readDockerfile(t, "docker/Dockerfile")
	known := map[string]bool{"FROM": true, "WORKDIR": true, "COPY": true, "RUN": true, "ARG": true, "USER": true, "ENV": true,
		"VOLUME": true, "EXPOSE": true, "STOPSIGNAL": true, "ENTRYPOINT": true, "CMD": true, "LABEL": true, "HEALTHCHECK": true}
	stages := map[string]bool{}
	var froms []string
	var finalUser, entrypoint string
	buildsStatic := false
	for _, in := range ins {
		if !known[in.cmd] {
			t.Errorf("Dockerfile:%d: unknown or unexpected instruction %s", in.line, in.cmd)
		}
		switch in.cmd {
		case "FROM":
			f := strings.Fields(in.args)
			froms = append(froms, f[0])
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				stages[f[2]] = true
			}
			finalUser, entrypoint = "", ""
		case "ADD":
			if regexp.MustCompile(`(?i)\bhttps?://`).MatchString(in.args) {
				t.Errorf("Dockerfile:%d: ADD of a URL (%s): fetch nothing unpinned at build time", in.line, in.args)
			}
		case "COPY":
			if m := regexp.MustCompile(`--from=(\S+)`).FindStringSubmatch(in.args); m != nil && !stages[m[1]] {
				t.Errorf("Dockerfile:%d: COPY --from=%s: no such stage", in.line, m[1])
			}
		case "RUN":
			if strings.Contains(in.args, "go build") && strings.Contains(in.args, "CGO_ENABLED=0") {
				buildsStatic = true
			}
		case "USER":
			finalUser = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		}
	}
	if len(froms) < 2 {
		t.Errorf("Got(FROM) = %q, want a multi-stage build", froms)
	}
	if !buildsStatic {
		t.Error("Got(RUN go build) without CGO_ENABLED=0, want a static binary")
	}
	if last := froms[len(froms)-1]; !strings.Contains(last, "distroless/static") && last != "scratch" {
		t.Errorf("Got(final FROM) = %q, want distroless/static or scratch", last)
	}
	user, _, _ := strings.Cut(finalUser, ":")
	if user == "" || user == "root" || user == "0" {
		t.Errorf("Got(final USER) = %q, want a non-root user", finalUser)
	}
	if !strings.HasPrefix(entrypoint, "[") {
		t.Errorf("Got(ENTRYPOINT) = %q, want the exec form, so SIGTERM reaches vmfleet", entrypoint)
	}
	// The build stage's Go is the one go.mod asks for.
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	if m == nil || !strings.HasPrefix(froms[0], "golang:"+string(m[1])) {
		t.Errorf("Got(build FROM) = %q, want golang:%s (go.mod's go version)", froms[0], m[1])
	}
}

func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile("docker/Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var pats []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			pats = append(pats, l)
		}
	}
	for _, must := range []string{".git", "artifacts"} {
		if !slices.Contains(pats, must) {
			t.Errorf("Got(.dockerignore) lacks %q, want it out of the build context", must)
		}
	}
	// Nothing the Go build needs may be ignored.
	for _, p := range pats {
		for _, need := range []string{"go.mod", "go.sum", "cmd", "orchestrator", "events", "internal"} {
			if ok, _ := filepath.Match(p, need); ok || p == need {
				t.Errorf("Got(.dockerignore pattern %q) excludes %s, which the build needs", p, need)
			}
		}
	}
}

// TestDockerfileRecordsTheBuild: the container's vmfleet knows its version, commit, date and
// dirty flag (the build context has no .git, so Go records no VCS information): the go build
// passes each as a linker flag from a build argument.
func TestDockerfileRecordsTheBuild(t *testing.T) {
	args := map[string]bool{}
	var build string
	for _, in := range readDockerfile(t, "docker/Dockerfile") {
		switch {
		case in.cmd == "ARG":
			name, _, _ := strings.Cut(in.args, "=")
			args[name] = true
		case in.cmd == "RUN" && strings.Contains(in.args, "go build"):
			build = in.args
		}
	}
	for field, arg := range map[string]string{"version": "VERSION", "commit": "COMMIT", "date": "DATE", "dirty": "DIRTY"} {
		if !args[arg] {
			t.Errorf("Got(Dockerfile) without ARG %s", arg)
		}
		if x := "-X github.com/vmfleet/vmfleet/internal/buildinfo." + field + "=${" + arg + "}"; !strings.Contains(build, x) {
			t.Errorf("Got(RUN go build) = %q, want %s", build, x)
		}
	}
}
