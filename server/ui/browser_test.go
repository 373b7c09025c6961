package ui_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/imalert/imalert/alert/silence"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/store"
)

// browser starts headless Chromium for the test, or skips with how to
// install it (fails under CI=true).
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		msg := "chromium is not installed: apt-get install -y chromium (Debian), then run the test again"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.Flag("no-sandbox", true), chromedp.ExecPath(path),
		chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// A script run by a page would open a dialog: fail rather than hang.
	dialogs := make(chan string, 8)
	if err := chromedp.Listen(ctx, func(ev any) {
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			select {
			case dialogs <- d.Message:
			default:
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for msg := range dialogs {
			t.Errorf("a page opened a dialog: %q", msg)
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{})
		}
	}()
	tctx, cancel3 := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel3)
	return tctx
}

// shots is where screenshots go: $IMALERT_SCREENSHOTS, or the test's
// temporary directory.
func shots(t *testing.T) string {
	if d := os.Getenv("IMALERT_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// In a real browser: log in through the form, render every page with
// data (hostile callback strings stay text), switch times to the local
// zone, dry-run a callback, requeue a dead letter through the form, and
// read a page with JavaScript off.
func TestBrowser(t *testing.T) {
	r := newRig(t)
	ctx := browser(t)
	dir := shots(t)
	base := r.srv.URL
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			buf, err := chromedp.FullScreenshot(100)(ctx, tg) // 100: PNG
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
		})
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	do("open the login form", chromedp.Navigate(base+"/ui/events"), chromedp.WaitVisible(chromedp.ID("token")), shot("login"))
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasSuffix(loc, "/ui/login") {
		t.Errorf("unauthenticated visit went to %s, want the login form", loc)
	}
	do("log in", chromedp.SendKeys(chromedp.ID("token"), token), chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS("nav")))

	pages := []struct {
		name, path string
		want       []string
	}{
		{"overview", "/ui/", []string{"Events per minute by error code", "Last hour", "10023", "ops-mail", "failing", "rate-limit"}},
		{"events", "/ui/events", []string{hostileGroup, "throttled", "content-filter", "below threshold: 1 of 3"}},
		{"event", "/ui/events/2", []string{"</script><script>alert(1)</script>", "left of the 10m window", "This event made no page."}},
		{"deliveries", "/ui/deliveries", []string{"Dead letters", r.dead, "smtp: 550 mailbox unavailable"}},
		{"rules", "/ui/rules", []string{"rate-limit", "rules.yaml:2", "Dry run"}},
	}
	for _, p := range pages {
		do(p.name, chromedp.Navigate(base+p.path), chromedp.WaitVisible(chromedp.CSS("main")), shot(p.name))
		body := text("body")
		for _, w := range p.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: page text lacks %q", p.name, w)
			}
		}
		n, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[document.scripts.length, document.images.length]`))
		if err != nil || len(n) != 2 || n[0] != 1 || n[1] != 0 {
			t.Errorf("%s: [scripts, images] = %v, %v; want our one script and no image", p.name, n, err)
		}
	}

	// Times: UTC, or the browser's zone after the switch.
	do("zone", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Shanghai"})
		return err
	}), chromedp.Navigate(base+"/ui/events/1"), chromedp.WaitVisible(chromedp.ID("tz-toggle")))
	before := text("dl.facts time")
	do("switch", chromedp.Click(chromedp.ID("tz-toggle")))
	after, label := text("dl.facts time"), text("#tz-name")
	want := r.now.Add(-9 * time.Minute).In(time.FixedZone("CST", 8*3600)).Format("2006-01-02 15:04:05")
	if after != want || !strings.HasSuffix(before, " UTC") || label != "Asia/Shanghai" {
		t.Errorf("times: %q in UTC, %q after the switch (label %q); want %q in Asia/Shanghai", before, after, label, want)
	}

	// The dry-run box decides a pasted callback against the live state.
	do("dry run", chromedp.Navigate(base+"/ui/rules"),
		chromedp.SetValue(chromedp.CSS(`textarea[name=callback]`), string(sample(t, "send-msg-exception.hostile-text.json"))),
		chromedp.Click(chromedp.CSS(`form.dry-run button`)), chromedp.WaitVisible(chromedp.CSS(`div.result`)), shot("dry-run"))
	if result := text("div.result"); !strings.Contains(result, "rate-limit") || !strings.Contains(result, "throttled") {
		t.Errorf("dry run result lacks the throttled rate-limit decision:\n%s", result)
	}

	// Requeue a dead letter through the form.
	do("requeue", chromedp.Navigate(base+"/ui/deliveries"),
		chromedp.Click(chromedp.CSS(`form[action="/ui/deliveries/requeue"] button`)), chromedp.WaitVisible(chromedp.CSS(`p.ok`)), shot("requeued"))
	if flash := text("p.ok"); !strings.Contains(flash, r.dead) {
		t.Errorf("requeue said %q, want the id %s", flash, r.dead)
	}
	if rows, _ := r.st.Deliveries(context.Background(), store.Filter{State: store.Dead}); len(rows) != 0 {
		t.Errorf("%d dead letters after requeue, want 0", len(rows))
	}

	// Without JavaScript, pages render the same (times in UTC).
	do("no script", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}), chromedp.Navigate(base+"/ui/events"), chromedp.WaitVisible(chromedp.CSS("main")), shot("events-nojs"))
	if noJS := text("body"); !strings.Contains(noJS, hostileGroup) || !strings.Contains(noJS, " UTC") || strings.Contains(noJS, "Show local time") {
		t.Errorf("without JavaScript the events page lacks its content or shows the zone switch:\n%.500s", noJS)
	}
}

// tab drives one browser tab for a test.
type tab struct {
	t   *testing.T
	ctx context.Context
	dir string
}

func (b *tab) shot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		buf, err := chromedp.FullScreenshot(100)(ctx, tg) // 100: PNG
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(b.dir, name+".png"), buf, 0o644)
	})
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// In a real browser: follow a page's mute link without logging in and
// confirm it; then, logged in, go from an event to the silence form it
// prefills, create the silence, and see the next matching callback
// silenced in its trace and counted on the silences page.
func TestBrowserSilences(t *testing.T) {
	r := newRig(t)
	b := &tab{t: t, ctx: browser(t), dir: shots(t)}
	base := r.srv.URL

	link := muteLink(t, r.st, 1)
	b.do("open the mute link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`form.silence`)), b.shot("mute-confirm"))
	if body := b.text("main"); !strings.Contains(body, "rate-limit") || !strings.Contains(body, docGroup) {
		t.Errorf("mute form lacks the rule or the group:\n%s", body)
	}
	b.do("confirm", chromedp.SendKeys(chromedp.CSS(`input[name=author]`), "oncall"),
		chromedp.Click(chromedp.CSS(`form.silence button`)), chromedp.WaitVisible(chromedp.CSS(`p.ok`)), b.shot("mute-done"))
	if done := b.text("p.ok"); !strings.Contains(done, "Muted until") {
		t.Errorf("after confirming: %q", done)
	}
	if list := r.silences.List(); len(list) != 1 || list[0].Via != silence.ViaLink || list[0].Author != "oncall" {
		t.Fatalf("silences after the link: %+v", list)
	}

	b.do("log in", chromedp.Navigate(base+"/ui/login"), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token), chromedp.Submit(chromedp.ID("token")), chromedp.WaitVisible(chromedp.CSS("nav")))
	b.do("mute from an event", chromedp.Navigate(base+"/ui/events/4"), chromedp.Click(chromedp.CSS(`td a.mute`)),
		chromedp.WaitVisible(chromedp.CSS(`form.silence`)))
	matchers, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS(`textarea[name=matchers]`)))
	if err != nil || !strings.Contains(matchers, "80001") || !strings.Contains(matchers, "GroupId: '@TGS#3FQ6KEAF7'") {
		t.Fatalf("prefilled matchers %q, %v: want the content-filter codes and the group", matchers, err)
	}
	b.do("create", chromedp.SendKeys(chromedp.CSS(`input[name=author]`), "ana"),
		chromedp.Click(chromedp.CSS(`form.silence button`)), chromedp.WaitVisible(chromedp.CSS(`p.ok`)))

	r.process(t, callback.Raw{Query: sendQuery, Body: sample(t, "send-msg-exception.content-filter.json"), ReceivedAt: time.Now().UTC()})
	b.do("the next event", chromedp.Navigate(base+"/ui/events/5"), chromedp.WaitVisible(chromedp.CSS("main")), b.shot("event-silenced"))
	if body := b.text("main"); !strings.Contains(body, "silenced") {
		t.Errorf("the next content-filter event is not silenced:\n%.800s", body)
	}
	b.do("the silences", chromedp.Navigate(base+"/ui/silences"), chromedp.WaitVisible(chromedp.CSS("table.silences")), b.shot("silences"))
	rows, err := chromedp.Run(b.ctx, chromedp.Evaluate[[][]string](
		`[...document.querySelectorAll("table.silences tbody tr")].map(tr => [...tr.cells].map(td => td.innerText.trim()))`))
	if err != nil || len(rows) != 2 {
		t.Fatalf("silences rows %v, %v; want 2", rows, err)
	}
	// Newest first: ana's from the form, which held the event; then the link's.
	if got := []string{rows[0][2], rows[0][4], rows[0][6], rows[1][2], rows[1][4], rows[1][6]}; strings.Join(got, "|") != "1|ana|ui|0|oncall|link" {
		t.Errorf("silenced, author, made in: %q, want ana's (ui) holding 1, oncall's (link) 0", got)
	}
}
