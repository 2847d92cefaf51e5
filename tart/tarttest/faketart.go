package tarttest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// Main runs the fake tart executable on the process's arguments and
// environment and exits with its status. tart/tarttest/faketart calls it.
func Main() {
	os.Exit(Run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// Run behaves like `tart args...` against the state directory named by
// $FAKETART_STATE in env, printing exactly what the chosen tart version
// prints, and returns the exit status. See the Env* constants for the knobs.
// A hang fault never returns: it is meant for the executable, not for Run.
func Run(args []string, env []string, stdout, stderr io.Writer) int {
	getenv := func(k string) string {
		for i := len(env) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(env[i], k+"="); ok {
				return v
			}
		}
		return ""
	}
	dir := getenv(EnvState)
	if dir == "" {
		fmt.Fprintf(stderr, "faketart: %s is not set\n", EnvState)
		return 1
	}
	st := store{dir: dir}
	if err := st.init(); err != nil {
		fmt.Fprintf(stderr, "faketart: %v\n", err)
		return 1
	}
	if getenv(envChild) == "" {
		_ = st.recordCall(args) // best effort: a test reading calls will notice
	}
	ver := getenv(EnvVersion)
	if ver == "" {
		ver = st.version()
	}
	if ver == "" {
		ver = DefaultVersion
	}
	f := &fakeTart{st: st, version: ver, feat: featuresOf(ver), stdout: stdout, stderr: stderr}
	op := opOf(args)
	if code, faulted := f.fault(op, getenv); faulted {
		return code
	}
	return f.dispatch(args)
}

// maxHang bounds a hang fault.
const maxHang = 10 * time.Minute

type fakeTart struct {
	// sub is the subcommand, for usage messages.
	sub            string
	st             store
	version        string
	feat           features
	stdout, stderr io.Writer
}

// opOf names the operation of a command line, for fault matching.
func opOf(args []string) Op {
	if len(args) == 0 {
		return ""
	}
	if args[0] == "--version" {
		return OpVersion
	}
	return Op(args[0])
}

// fault applies a fault configured for op by env or by the state directory.
func (f *fakeTart) fault(op Op, getenv func(string) string) (int, bool) {
	on := func(kind, envName string) bool {
		ops := append(splitList(getenv(envName)), f.st.faults(kind)...)
		return op != "" && slices.Contains(ops, string(op))
	}
	switch {
	case on(faultHang, EnvHang):
		if getenv(EnvHangChild) != "" {
			f.spawnHangingChild()
		}
		// Until killed; a cap keeps a fake orphaned by a failed test from
		// living forever.
		time.Sleep(maxHang)
		fmt.Fprintln(f.stderr, "faketart: hang fault expired")
		return 124, true
	case on(faultFail, EnvFail):
		fmt.Fprintf(f.stderr, "Error: injected failure of %s (%s)\n", op, EnvFail)
		return 1, true
	case on(faultGarbage, EnvGarbage):
		fmt.Fprintln(f.stdout, "Segmentation fault?! {\"Name\": this is not JSON")
		return 0, true
	}
	return 0, false
}

// spawnHangingChild starts a copy of this executable that hangs too and
// holds stdout open, like a helper process of tart's would: killing only the
// fake leaves its output pipe open until the child dies.
func (f *fakeTart) spawnHangingChild() {
	out, ok := f.stdout.(*os.File)
	exe, err := os.Executable()
	if !ok || err != nil {
		return
	}
	child := exec.Command(exe, "--version")
	child.Env = []string{EnvState + "=" + f.st.dir, EnvHang + "=" + string(OpVersion), envChild + "=1"}
	child.Stdout = out
	if child.Start() == nil {
		fmt.Fprintf(f.stderr, "faketart: child %d\n", child.Process.Pid)
	}
}

func (f *fakeTart) dispatch(args []string) int {
	if len(args) == 0 {
		return f.fail(usageErr("Missing expected subcommand"))
	}
	if args[0] == "--version" {
		fmt.Fprintln(f.stdout, f.version)
		return 0
	}
	if _, ok := arity[args[0]]; ok {
		f.sub = args[0]
	}
	cmd, err := parseArgs(args[0], args[1:])
	if err != nil {
		return f.fail(err)
	}
	switch cmd.name {
	case "list":
		err = f.list(cmd)
	case "get":
		err = f.get(cmd)
	case "delete":
		err = f.delete(cmd)
	case "rename":
		err = f.rename(cmd)
	case "clone":
		err = f.clone(cmd)
	case "pull":
		err = f.pull(cmd)
	}
	if err != nil {
		return f.fail(err)
	}
	return 0
}

func (f *fakeTart) list(cmd command) error {
	recs, err := f.st.all()
	if err != nil {
		return err
	}
	recs = slices.DeleteFunc(recs, func(r record) bool { return cmd.source != "" && r.Source != cmd.source })
	switch {
	case cmd.quiet:
		for _, r := range recs {
			fmt.Fprintln(f.stdout, r.Name)
		}
	case cmd.format == "json":
		objs := make([][]field, len(recs))
		for i, r := range recs {
			objs[i] = listFields(f.feat, r)
		}
		io.WriteString(f.stdout, renderJSON(objs, true))
	default:
		io.WriteString(f.stdout, renderText(f.feat, recs))
	}
	return nil
}

func (f *fakeTart) get(cmd command) error {
	r, ok, err := f.st.get(cmd.pos[0])
	if err != nil {
		return err
	}
	if !ok || r.Source != "local" {
		return notExist(cmd.pos[0])
	}
	if cmd.format == "json" {
		io.WriteString(f.stdout, renderJSON([][]field{getFields(f.feat, r)}, false))
		return nil
	}
	io.WriteString(f.stdout, renderText(f.feat, []record{r}))
	return nil
}

func (f *fakeTart) delete(cmd command) error {
	for _, name := range cmd.pos {
		r, ok, err := f.st.get(name)
		switch {
		case err != nil:
			return err
		case !ok && f.feat.deleteMissingLockErr:
			return tartErr{msg: fmt.Sprintf("failed to open lock file file://%s/vms/%s/config.json: No such file or directory", f.st.dir, name), code: 1, runtime: true}
		case !ok:
			return notExist(name)
		case r.State == "running" && f.feat.deleteRefusesRunning:
			return tartErr{msg: fmt.Sprintf("VM %q is running", name), code: 1, runtime: true}
		}
		if err := f.st.remove(name); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeTart) rename(cmd command) error {
	from, to := cmd.pos[0], cmd.pos[1]
	if strings.Contains(to, "/") {
		return usageErr("<new-name> should be a local name")
	}
	r, ok, err := f.st.get(from)
	if err != nil {
		return err
	}
	if !ok || r.Source != "local" {
		return usageErr("failed to rename a non-existent local VM: " + from)
	}
	if _, taken, err := f.st.get(to); err != nil || taken {
		if err != nil {
			return err
		}
		return usageErr(fmt.Sprintf("failed to rename VM %s, target VM %s already exists, delete it first!", from, to))
	}
	r.Name = to
	if err := f.st.put(r); err != nil {
		return err
	}
	return f.st.remove(from)
}

// clone copies src (pulling an OCI reference first) to dst. Like tart, it
// silently replaces an existing dst.
func (f *fakeTart) clone(cmd command) error {
	src, dst := cmd.pos[0], cmd.pos[1]
	if strings.Contains(dst, "/") {
		return usageErr("<new-name> should be a local name")
	}
	r, ok, err := f.st.get(src)
	if err != nil {
		return err
	}
	if !ok && strings.Contains(src, "/") {
		if err := f.pullRef(src); err != nil {
			return err
		}
		r, ok, err = f.st.get(src)
		if err != nil {
			return err
		}
	}
	if !ok {
		return notExist(src)
	}
	r.Name, r.Source, r.State, r.Accessed = dst, "local", "stopped", time.Now().UTC().Truncate(time.Second)
	return f.st.put(r)
}

func (f *fakeTart) pull(cmd command) error { return f.pullRef(cmd.pos[0]) }

// pullRef stores an OCI image under its reference and, for a tag, under its
// digest too, as tart does.
func (f *fakeTart) pullRef(ref string) error {
	if !strings.Contains(ref, "/") {
		return tartErr{msg: fmt.Sprintf("failed to parse remote name: %s", ref), code: 1, runtime: true}
	}
	now := time.Now().UTC().Truncate(time.Second)
	base := record{Source: "oci", State: "stopped", DiskGB: 50, SizeGB: 20, Accessed: now, CPU: 4, MemoryMB: 8192, OS: "darwin"}
	names := []string{ref}
	if !strings.Contains(ref, "@") {
		repo := ref
		if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
			repo = ref[:i]
		}
		names = append(names, repo+"@sha256:"+digestOf(ref))
	}
	for _, n := range names {
		r := base
		r.Name = n
		if err := f.st.put(r); err != nil {
			return err
		}
	}
	return nil
}

// digestOf is the fake manifest digest of a reference (hex sha256 of it).
func digestOf(ref string) string {
	sum := sha256.Sum256([]byte(ref))
	return hex.EncodeToString(sum[:])
}
