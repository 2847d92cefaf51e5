package browser_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/google/go-cmp/cmp"
	"github.com/vmfleet/vmfleet/events"
	"github.com/vmfleet/vmfleet/orchestrator"
	"github.com/vmfleet/vmfleet/orchestrator/builds"
	"github.com/vmfleet/vmfleet/tart/tarttest"
)

// artifactsDir is where CI keeps the screenshots (README: "Dashboard").
const artifactsDir = "../../artifacts"

// chromium finds the browser: $VMFLEET_CHROMIUM, else Debian's chromium or a
// Chrome on PATH. Without one the test skips on a developer machine and fails
// in CI (CI=true), where .ci/run installs it.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("VMFLEET_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium binary on PATH and CI=true: .ci/run must install it (apt-get install -y chromium)")
	}
	t.Skip("no chromium binary on PATH: install it (apt-get install -y chromium) or set VMFLEET_CHROMIUM to run the dashboard browser test")
	return ""
}

// browser starts headless Chromium with a fresh profile and nothing that
// reaches the network on its own. The returned context has run once (the
// browser lives as long as the test); derive timeouts from it.
func browser(t *testing.T, exe string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1000),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelB := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelB(); cancelA() })
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	return bctx
}

// within runs steps with a deadline.
func within(t *testing.T, ctx context.Context, what string, d time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval returns a JavaScript expression's value.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func cell(host, release, state string) chromedp.CSS {
	return chromedp.CSS(`tr[data-host="` + host + `"] td[data-release="` + release + `"][data-state="` + state + `"]`)
}

// choose picks a select's option as a user would, firing the form's input event.
func choose(t *testing.T, ctx context.Context, id, value string) {
	t.Helper()
	eval[bool](t, ctx, `(() => { const s = document.getElementById("`+id+`"); s.value = "`+value+`";
		s.dispatchEvent(new Event("input", {bubbles: true})); return true; })()`)
}

const visibleHosts = `[...document.querySelectorAll("#hosts tbody tr")].filter(r => !r.hidden).map(r => r.dataset.host)`

func TestDashboardInBrowser(t *testing.T) {
	exe := chromium(t)
	w := newWorld(t)
	subject := w.addAgent("mac-00", "darwin", []string{"13"}, nil)
	w.addAgent("mac-01", "darwin", []string{"13", "14"}, nil)
	w.addAgent("mac-02", "darwin-large", []string{"13"}, nil)
	w.addAgent("mac-03", "darwin", []string{"13", "14"}, func(h *hostAgent) {
		if _, err := h.a.SetForced(events.ForceRequest{State: events.ForcedNotReady, TTL: events.Duration(2 * time.Hour), By: "ops", Reason: "disk swap"}); err != nil {
			t.Fatal(err)
		}
	})
	w.addAgent("mac-04", "darwin-large", nil, func(h *hostAgent) {
		errs := make([]error, 10)
		for i := range errs {
			errs[i] = errors.New("tart list: exit status 1: Error: The file couldn't be opened")
		}
		h.tart.FailNext(tarttest.OpList, errs...)
	})
	w.publishStaleHost("mac-05")
	w.publishPrunes("mac-01")

	key := builds.RecordKey(images.ImageName("14"), "mac-00")
	w.waitFor("mac-00's build", func() bool {
		for _, r := range w.o.Builds() {
			if r.Key == key && r.Number > 0 {
				return true
			}
		}
		return false
	})
	w.bk.Advance() // scheduled → running
	w.waitFor("mac-05 stale", func() bool { return w.hostState("mac-05") == orchestrator.HostStale })

	ctx := browser(t, exe)
	// The page loads, connects, and shows the fleet as it is.
	within(t, ctx, "loading the dashboard", 30*time.Second,
		chromedp.Navigate(w.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#conn.live`)),
		chromedp.WaitVisible(cell("mac-00", "13", "ready")),
		chromedp.WaitVisible(cell("mac-00", "14", "building")),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-host="mac-00"] td[data-release="14"] a[href*="/builds/"]`)),
	)

	// A drained host's row says who drained it, until when and why.
	if got := eval[string](t, ctx, `document.querySelector('tr[data-host="mac-03"] th').textContent`); !strings.Contains(got, "drained by ops until ") || !strings.Contains(got, " — disk swap") {
		t.Errorf("Got(mac-03's row header) = %q, want drained by ops until … — disk swap", got)
	}

	// The agent gets its image: the cell turns ready without a reload.
	subject.tart.Add(events.VM{Name: images.ImageName("14"), DiskGB: 80, SizeGB: 42})
	subject.a.Trigger()
	within(t, ctx, "waiting for mac-00 to turn ready live", 20*time.Second, chromedp.WaitVisible(cell("mac-00", "14", "ready")))
	if got := eval[string](t, ctx, `document.getElementById("announce").textContent`); !strings.Contains(got, "mac-00 macOS 14: ready") {
		t.Errorf("Got(aria-live announcement) = %q, want it to say mac-00 macOS 14: ready", got)
	}

	// The keyboard reaches the filters; they narrow the table and the URL
	// keeps them.
	eval[bool](t, ctx, `(document.activeElement.blur(), true)`)
	within(t, ctx, "tabbing", 5*time.Second, chromedp.KeyEvent(kb.Tab))
	if got := eval[string](t, ctx, `document.activeElement.id`); got != "f-host" {
		t.Errorf("Got(focus after Tab) = %q, want the host filter (f-host)", got)
	}
	within(t, ctx, "typing a host filter", 5*time.Second, chromedp.SendKeys(chromedp.CSS(`#f-host`), "mac-0"))
	choose(t, ctx, "f-state", "error")
	if diff := cmp.Diff([]string{"mac-04"}, eval[[]string](t, ctx, visibleHosts)); diff != "" {
		t.Errorf("Got(hosts for name mac-0, state error) diff (-want +got):\n%s", diff)
	}
	if hash := eval[string](t, ctx, `location.hash`); !strings.Contains(hash, "state=error") || !strings.Contains(hash, "host=mac-0") {
		t.Errorf("Got(location.hash) = %q, want the filters in it (shareable)", hash)
	}
	choose(t, ctx, "f-state", "")
	choose(t, ctx, "f-queue", "darwin-large")
	if diff := cmp.Diff([]string{"mac-02", "mac-04"}, eval[[]string](t, ctx, visibleHosts)); diff != "" {
		t.Errorf("Got(hosts for queue darwin-large) diff (-want +got):\n%s", diff)
	}
	within(t, ctx, "clearing the filters", 5*time.Second,
		chromedp.Click(chromedp.CSS(`button[type="reset"]`)), chromedp.WaitVisible(chromedp.CSS(`tr[data-host="mac-01"]`)))
	if want, got := []string{"mac-00", "mac-01", "mac-02", "mac-03", "mac-04", "mac-05"}, eval[[]string](t, ctx, visibleHosts); !slices.Equal(got, want) {
		t.Errorf("Got(hosts after Clear) = %v, want %v", got, want)
	}

	rolloutPanel(t, ctx, w)
	screenshots(t, ctx)
}

// rolloutPanel stages a bootstrap bump and watches the rollout panel: it
// appears with what changes, per release the hosts holding the staged
// image, the builds in flight, the auto-promote's threshold and the ETA;
// a host that gets the staged images shows up in it live.
func rolloutPanel(t *testing.T, ctx context.Context, w *world) {
	t.Helper()
	if got := eval[bool](t, ctx, `document.getElementById("rollout").hidden`); !got {
		t.Errorf("Got(rollout panel without a staged spec) = shown, want hidden")
	}
	bootstrap, share := "3.7", 0.9
	staged, err := w.o.StageSpec(t.Context(), orchestrator.SpecUpdate{BootstrapVersion: &bootstrap, AutoPromote: &share, By: "alice"})
	if err != nil {
		t.Fatalf("Got(stage) = %v, want ok", err)
	}
	rev := fmt.Sprint(staged.Revision)
	release := func(rel, attr string) chromedp.CSS {
		return chromedp.CSS(`#rollout[data-revision="` + rev + `"] #rollout-releases tr[data-release="` + rel + `"]` + attr)
	}
	// Five hosts report (mac-05 is stale): none holds the staged images.
	within(t, ctx, "the rollout panel", 20*time.Second,
		chromedp.WaitVisible(chromedp.CSS(`#rollout[data-revision="`+rev+`"]`)),
		chromedp.WaitVisible(release("13", `[data-ready="0"][data-total="5"]`)),
		chromedp.WaitVisible(release("14", `[data-ready="0"][data-total="5"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#rollout-cards [data-eta]`)),
	)
	if got := eval[string](t, ctx, `document.querySelector('#rollout-changes li[data-field="bootstrap"]').textContent`); got != "bootstrap 3.6 → 3.7" {
		t.Errorf("Got(what changes) = %q, want bootstrap 3.6 → 3.7", got)
	}
	if got := eval[string](t, ctx, `document.getElementById("rollout-cards").textContent`); !strings.Contains(got, "90% · 5 hosts") || !strings.Contains(got, "5 more to go") {
		t.Errorf("Got(rollout cards) = %q, want the auto-promote at 90%%: 5 hosts, 5 more to go", got)
	}
	if got := eval[string](t, ctx, `document.getElementById("rollout-what").textContent`); !strings.Contains(got, "by alice") {
		t.Errorf("Got(rollout summary) = %q, want who staged it", got)
	}
	// The hosts without room (here those missing both staged images: the
	// fake disk has room for one) are named, as many as the rollout counts.
	within(t, ctx, "the hosts without room", 20*time.Second, chromedp.Poll[chromedp.Void](
		`(() => { const c = document.querySelector("#rollout-cards [data-no-space]"); const n = c ? +c.dataset.noSpace : 0;
			return n > 0 && document.querySelectorAll("#rollout-noroom code[data-host]").length === n; })()`))
	// Builds of staged images start behind the current spec's needs.
	w.waitFor("a staged build", func() bool { return w.o.Readiness().Rollout != nil && stagedBuilds(w.o.Readiness().Rollout) > 0 })
	within(t, ctx, "the builds in flight on the page", 20*time.Second, chromedp.Poll[chromedp.Void](
		`[...document.querySelectorAll("#rollout-releases tbody tr")].some(r => r.children[4].textContent !== "0")`))

	// mac-01 gets both staged images: the panel counts it, live.
	h := w.agents["mac-01"]
	for _, r := range images.Releases {
		h.tart.Add(events.VM{Name: staged.Images.ImageName(r), DiskGB: 80, SizeGB: 42})
	}
	h.a.Trigger()
	within(t, ctx, "mac-01 counted in the rollout live", 20*time.Second,
		chromedp.WaitVisible(release("13", `[data-ready="1"]`)),
		chromedp.WaitVisible(release("14", `[data-ready="1"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#rollout-cards [data-ready="1"]`)),
	)
	if got := eval[string](t, ctx, `document.querySelector('#rollout-releases tr[data-release="14"] [role="progressbar"]').getAttribute("aria-valuenow")`); got != "1" {
		t.Errorf("Got(release 14's progress bar) = %q, want 1 host", got)
	}
}

func stagedBuilds(r *events.Rollout) int {
	n := 0
	for _, sr := range r.Releases {
		n += sr.Builds
	}
	return n
}

// screenshots saves the page, light and dark, under artifacts/.
func screenshots(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := os.MkdirAll(artifactsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	eval[bool](t, ctx, `(document.querySelectorAll("tr.changed").forEach(r => r.classList.remove("changed")), true)`)
	for _, mode := range []struct{ file, scheme string }{{"dashboard.png", "light"}, {"dashboard-dark.png", "dark"}} {
		media := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: mode.scheme}}})
			return err
		})
		within(t, ctx, "emulating "+mode.scheme, 5*time.Second, media)
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Fatalf("Got(screenshot) = %d bytes, not a PNG", len(png))
		}
		path := filepath.Join(artifactsDir, mode.file)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d bytes)", path, len(png))
	}
}
