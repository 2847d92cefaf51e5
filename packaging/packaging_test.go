// Package packaging holds the release tooling (release.sh, run by `make release`) and the
// Homebrew formula; its tests build a release for one platform and check the formula against
// the launchd service the docs describe.
package packaging

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/macho"
	"encoding/hex"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestMakeRelease runs `make release` for darwin/arm64 alone (the agent's platform; the other
// three cost the same each and are left to a real release) and checks what it made: a Mach-O
// arm64 binary built static, with -trimpath and the version linker flags from git; the source
// archive; the Homebrew formula pinned to that archive; SHA256SUMS naming each with its sum.
func TestMakeRelease(t *testing.T) {
	for _, tool := range []string{"make", "git", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not in PATH: %v", tool, err)
		}
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	commit := strings.TrimSpace(string(head))
	dist := t.TempDir()
	cmd := exec.Command("make", "-s", "release", "PLATFORMS=darwin/arm64", "DIST="+dist, "VERSION=v9.8.7-test")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make release: %v\n%s", err, out)
	}

	sums := map[string]string{}
	f, err := os.Open(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("Got(SHA256SUMS line) = %q, want \"<sum>  <file>\" (sha256sum's format)", sc.Text())
		}
		sums[name] = sum
	}
	want := []string{"vmfleet-darwin-arm64", "vmfleet-v9.8.7-test.tar.gz", "vmfleet.rb"}
	if got := slices.Sorted(maps.Keys(sums)); !slices.Equal(got, want) {
		t.Fatalf("Got(SHA256SUMS files) = %q, want %q", got, want)
	}
	for name, sum := range sums {
		b, err := os.ReadFile(filepath.Join(dist, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sum {
			t.Errorf("Got(sha256 %s) = %x, want %s from SHA256SUMS", name, got, sum)
		}
	}

	bin := filepath.Join(dist, "vmfleet-darwin-arm64")
	mf, err := macho.Open(bin)
	if err != nil {
		t.Fatalf("Got(%s) not Mach-O: %v", bin, err)
	}
	if mf.Cpu != macho.CpuArm64 {
		t.Errorf("Got(Mach-O CPU) = %v, want arm64", mf.Cpu)
	}
	mf.Close()
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	for k, v := range map[string]string{"GOOS": "darwin", "GOARCH": "arm64", "CGO_ENABLED": "0", "-trimpath": "true"} {
		if settings[k] != v {
			t.Errorf("Got(build setting %s) = %q, want %q", k, settings[k], v)
		}
	}
	// -trimpath leaves -ldflags out of the build settings: the -X values are
	// looked for in the binary's data instead.
	exe, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []string{"v9.8.7-test", commit} {
		if !bytes.Contains(exe, []byte(x)) {
			t.Errorf("Got(%s) without %q, want the version linker flags of make release", bin, x)
		}
	}

	rb, err := os.ReadFile(filepath.Join(dist, "vmfleet.rb"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		`  url "https://github.com/vmfleet/vmfleet/releases/download/v9.8.7-test/vmfleet-v9.8.7-test.tar.gz"`,
		`  sha256 "` + sums["vmfleet-v9.8.7-test.tar.gz"] + `"`,
		`  version "9.8.7-test"`,
		`  RELEASE_COMMIT = "` + commit + `".freeze`,
	} {
		if !strings.Contains(string(rb), line+"\n") {
			t.Errorf("Got(dist/vmfleet.rb) lacks %q, want the formula pinned to the release", line)
		}
	}
	rubyCheck(t, filepath.Join(dist, "vmfleet.rb"))
}

// rubyCheck runs `ruby -c` on a formula where Ruby is installed.
func rubyCheck(t *testing.T, path string) {
	t.Helper()
	if _, err := exec.LookPath("ruby"); err != nil {
		t.Logf("ruby not in PATH: %s not syntax-checked", path)
		return
	}
	if out, err := exec.Command("ruby", "-c", path).CombinedOutput(); err != nil {
		t.Errorf("ruby -c %s: %v\n%s", path, err, out)
	}
}

// TestHomebrewServiceMatchesLaunchd checks the formula's service block against the launchd
// plist docs/install.md installs: the same command and arguments, TART_NO_AUTO_PRUNE=1 and the
// JSON log format, kept alive, logging to agent.log.
func TestHomebrewServiceMatchesLaunchd(t *testing.T) {
	rb, err := os.ReadFile("homebrew/vmfleet.rb")
	if err != nil {
		t.Fatal(err)
	}
	plist, err := os.ReadFile("../deploy/launchd/dev.vmfleet.agent.plist")
	if err != nil {
		t.Fatal(err)
	}
	service := regexp.MustCompile(`(?s)\n  service do\n(.*?)\n  end\n`).FindSubmatch(rb)
	if service == nil {
		t.Fatal("Got(homebrew/vmfleet.rb) without a `service do ... end` block")
	}
	block := string(service[1])

	// The plist's command, without the binary's path: agent run --config .../agent.yaml.
	progArgs := regexp.MustCompile(`(?s)<key>ProgramArguments</key>\s*<array>(.*?)</array>`).FindSubmatch(plist)
	if progArgs == nil {
		t.Fatal("plist: no ProgramArguments")
	}
	var args []string
	for _, m := range regexp.MustCompile(`<string>([^<]*)</string>`).FindAllSubmatch(progArgs[1], -1) {
		args = append(args, string(m[1]))
	}
	run := regexp.MustCompile(`(?m)^\s*run \[opt_bin/"vmfleet", (.*)\]$`).FindStringSubmatch(block)
	if run == nil {
		t.Fatalf("Got(service block) = %q, want run [opt_bin/\"vmfleet\", ...]", block)
	}
	var brewArgs []string
	for _, a := range strings.Split(run[1], ", ") {
		if s, ok := strings.CutPrefix(a, `etc/"`); ok {
			a = "/usr/local/etc/" + strings.TrimSuffix(s, `"`) // etc is /usr/local/etc on Intel
		}
		brewArgs = append(brewArgs, strings.Trim(a, `"`))
	}
	if len(args) < 2 || !slices.Equal(brewArgs, args[1:]) {
		t.Errorf("Got(service run) = %q, want the plist's arguments %q", brewArgs, args[1:])
	}
	for _, want := range []string{`TART_NO_AUTO_PRUNE: "1"`, `VMFLEET_LOG_FORMAT: "json"`, "keep_alive true",
		`log_path var/"log/vmfleet/agent.log"`, `error_log_path var/"log/vmfleet/agent.log"`} {
		if !strings.Contains(block, want) {
			t.Errorf("Got(service block) lacks %s, want it as the plist has it", want)
		}
	}
	for _, pair := range [][2]string{{"TART_NO_AUTO_PRUNE", "1"}, {"VMFLEET_LOG_FORMAT", "json"}} {
		if !regexp.MustCompile(`<key>` + pair[0] + `</key>\s*<string>` + pair[1] + `</string>`).Match(plist) {
			t.Errorf("plist: %s is not %s, but the formula sets it: update both", pair[0], pair[1])
		}
	}
	if !strings.Contains(string(plist), "/usr/local/var/log/vmfleet/agent.log") {
		t.Error("plist: logs elsewhere than /usr/local/var/log/vmfleet/agent.log, where the formula logs: update both")
	}
	rubyCheck(t, "homebrew/vmfleet.rb")
}
