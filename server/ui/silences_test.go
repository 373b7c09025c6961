package ui_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/alert/mute"
	"github.com/imalert/imalert/alert/silence"
	"github.com/imalert/imalert/alert/trace"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/rules"
	"github.com/imalert/imalert/store"
)

// browserClient is a client with a cookie jar that does not follow
// redirects, and the CSRF token its pages carry.
type browserClient struct {
	t    *testing.T
	c    *http.Client
	base string
	csrf string
}

func newClient(t *testing.T, base string) *browserClient {
	jar, _ := cookiejar.New(nil)
	return &browserClient{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browserClient) get(path string) (int, string) {
	b.t.Helper()
	code, body := get(b.t, b.c, b.base+path, false)
	if m := csrfRE.FindStringSubmatch(body); m != nil {
		b.csrf = m[1]
	}
	return code, body
}

// post submits a form, with the CSRF token unless v sets "csrf".
func (b *browserClient) post(path string, v url.Values) (*http.Response, string) {
	b.t.Helper()
	if _, ok := v["csrf"]; !ok {
		v.Set("csrf", b.csrf)
	}
	resp, err := b.c.PostForm(b.base+path, v)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (b *browserClient) login() {
	b.t.Helper()
	b.get("/ui/login")
	if resp, _ := b.post("/ui/login", url.Values{"token": {token}}); resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("login: status %d", resp.StatusCode)
	}
}

const docGroup = "@TGS#2J4SZEAEL"

// A silence made with the form holds the next matching callback: the
// event is journaled as silenced and counted; the form records who made
// it and that it came from the UI, and expires it.
func TestSilenceForm(t *testing.T) {
	r := newRig(t)
	b := newClient(t, r.srv.URL)
	b.login()

	// Prefilled from an event and a rule: its group key within its match.
	code, body := b.get("/ui/silences?event=1&rule=rate-limit")
	if code != 200 {
		t.Fatalf("silences page: status %d", code)
	}
	for _, w := range []string{"GroupId: &#39;" + docGroup + "&#39;", "error_code: 10023", "muted from event #1, rule rate-limit", `value="1h"`} {
		if !strings.Contains(body, w) {
			t.Errorf("prefilled form lacks %q", w)
		}
	}
	if _, body := b.get("/ui/silences?event=3&group_id=" + url.QueryEscape(hostileGroup)); strings.Contains(body, hostileGroup) || !strings.Contains(body, "&lt;img src=x") {
		t.Errorf("a hostile group id is not escaped in the form")
	}

	good := url.Values{"matchers": {"GroupId: '" + docGroup + "'\nerror_code: 10023\n"}, "duration": {"1h"}, "author": {"ana <b>"}, "comment": {"load test"}}
	if resp, _ := b.post("/ui/silences", url.Values{"csrf": {""}, "matchers": good["matchers"], "author": {"x"}, "comment": {"y"}, "duration": {"1h"}}); resp.StatusCode != 403 {
		t.Errorf("without the CSRF token: status %d, want 403", resp.StatusCode)
	}
	for _, bad := range []struct{ matchers, duration, want string }{
		{"eror_code: 1", "1h", "unknown field"},
		{"error_code: 10023", "9d", "at most 7d"},
		{"- a\n- b", "1h", "mapping"},
		{": :", "1h", "not YAML"},
	} {
		resp, body := b.post("/ui/silences", url.Values{"matchers": {bad.matchers}, "duration": {bad.duration}, "author": {"a"}, "comment": {"c"}})
		if resp.StatusCode != 400 || !strings.Contains(body, bad.want) {
			t.Errorf("matchers %q, duration %s: status %d, want 400 saying %q", bad.matchers, bad.duration, resp.StatusCode, bad.want)
		}
	}
	if n := len(r.silences.List()); n != 0 {
		t.Fatalf("%d silences after refused forms", n)
	}
	resp, _ := b.post("/ui/silences", good)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/ui/silences?added=") {
		t.Fatalf("create: status %d, location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	list := r.silences.List()
	if len(list) != 1 || list[0].Via != silence.ViaUI || list[0].Author != "ana <b>" || list[0].State != silence.Active {
		t.Fatalf("silences %+v, want one active, made in the UI by ana <b>", list)
	}
	id := list[0].ID

	// The next callback of that group is silenced, and counted.
	r.process(t, callback.Raw{Query: sendQuery, Body: sample(t, "send-msg-exception.doc-sample.json"), ReceivedAt: time.Now().UTC()})
	ev, err := trace.NewReader(r.st, r.p.Rules, callback.Limits{}).Get(context.Background(), 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Matches) != 1 || ev.Matches[0].Reason != "silenced" || len(ev.Notifications) != 0 ||
		ev.Matches[0].Detail != "held: silenced by silence "+id {
		t.Errorf("event after the silence: %+v, want rate-limit held by silence %s and no page", ev.Matches, id)
	}
	if got := r.silences.List()[0].Silenced; got != 1 {
		t.Errorf("silenced count %d, want 1", got)
	}
	_, body = b.get("/ui/silences")
	for _, w := range []string{id, "ana &lt;b&gt;", "load test", ">ui<", "Expire"} {
		if !strings.Contains(body, w) {
			t.Errorf("list lacks %q", w)
		}
	}
	if _, body := b.get("/ui/"); !strings.Contains(body, "Active silences") || !strings.Contains(body, "#silence-"+id) {
		t.Error("the overview does not list the active silence")
	}

	if resp, _ := b.post("/ui/silences/nope/expire", url.Values{}); resp.StatusCode != 404 {
		t.Errorf("expire unknown: status %d, want 404", resp.StatusCode)
	}
	if resp, _ := b.post("/ui/silences/"+id+"/expire", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("expire: status %d", resp.StatusCode)
	}
	if st := r.silences.List()[0].State; st != silence.Expired {
		t.Errorf("after expire: %s", st)
	}
}

// muteLink is the mute link of the first page of event id in the outbox.
func muteLink(t *testing.T, st *store.Store, id int64) string {
	t.Helper()
	rows, err := st.Deliveries(context.Background(), store.Filter{State: store.Pending})
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		if row.EventID == id {
			n, _ := delivery.Decode(row, callback.Limits{})
			if n.MuteLink == "" {
				t.Fatalf("page of event %d has no mute link", id)
			}
			return n.MuteLink
		}
	}
	t.Fatalf("no page of event %d", id)
	return ""
}

func rule(t *testing.T, r *rig, name string) *rules.Rule {
	t.Helper()
	for _, rl := range r.p.Rules().Rules() {
		if rl.Name == name {
			return rl
		}
	}
	t.Fatalf("no rule %s", name)
	return nil
}

// A page's mute link needs no login: it shows what it would silence and,
// confirmed, makes that one silence, recorded as made from the link. It
// makes no second one; altered, expired or hostile links do no harm.
func TestMuteLink(t *testing.T) {
	r := newRig(t)
	link := muteLink(t, r.st, 1)
	path := strings.TrimPrefix(link, r.srv.URL)
	if !strings.HasPrefix(path, "/ui/mute/") {
		t.Fatalf("mute link %q is not under this server's /ui/mute/", link)
	}
	b := newClient(t, r.srv.URL) // not logged in
	code, body := b.get(path)
	if code != 200 {
		t.Fatalf("mute form: status %d:\n%s", code, body)
	}
	for _, w := range []string{"rate-limit", docGroup, "error_code: 10023", "Mute for 1 h", "muted from the page of event #1"} {
		if !strings.Contains(body, w) {
			t.Errorf("mute form lacks %q", w)
		}
	}
	if strings.Contains(body, "<nav>") {
		t.Error("the mute form shows the menu to someone not logged in")
	}
	if resp, _ := b.post(path, url.Values{"csrf": {""}, "author": {"bo"}, "comment": {"c"}}); resp.StatusCode != 403 {
		t.Errorf("without the CSRF token: status %d, want 403", resp.StatusCode)
	}
	if resp, body := b.post(path, url.Values{"author": {""}, "comment": {"c"}}); resp.StatusCode != 400 || !strings.Contains(body, "author is required") {
		t.Errorf("without an author: status %d, want 400", resp.StatusCode)
	}
	resp, body := b.post(path, url.Values{"author": {"bo"}, "comment": {"noisy load test"}})
	if resp.StatusCode != 200 || !strings.Contains(body, "Muted until") {
		t.Fatalf("confirm: status %d:\n%s", resp.StatusCode, body)
	}
	list := r.silences.List()
	if len(list) != 1 || list[0].Via != silence.ViaLink || list[0].Author != "bo" ||
		string(list[0].Matchers) != `{"GroupId":"`+docGroup+`","error_code":10023}` || list[0].EndsAt.Sub(list[0].StartsAt) != mute.For {
		t.Fatalf("silences %+v, want one hour on the page's group, made from the link", list)
	}
	if resp, body := b.post(path, url.Values{"author": {"bo"}, "comment": {"again"}}); resp.StatusCode != 409 || !strings.Contains(body, list[0].ID) {
		t.Errorf("second use: status %d, want 409 naming the first silence", resp.StatusCode)
	}
	if n := len(r.silences.List()); n != 1 {
		t.Errorf("%d silences after a second use, want 1", n)
	}
	if code, body := b.get(path); code != 200 || !strings.Contains(body, "made its silence already") || !strings.Contains(body, list[0].ID) || strings.Contains(body, `name="author"`) {
		t.Errorf("opened again: status %d, want the silence it made and no form", code)
	}

	i := len(path) - 10 // inside the MAC
	swap := "a"
	if path[i] == 'a' {
		swap = "b"
	}
	tampered := path[:i] + swap + path[i+1:]
	hostileKey := `GroupId="` + hostileGroup + `"`
	for _, tt := range []struct {
		name, path string
		want       int
	}{
		{"tampered", tampered, 403},
		{"expired", strings.TrimPrefix(r.signer.Link(r.srv.URL, rule(t, r, "rate-limit"), `GroupId="@g"`, 1, r.now.Add(-mute.Valid-time.Minute)), r.srv.URL), 410},
		{"another server's", strings.TrimPrefix(mute.NewSigner([]byte("other")).Link(r.srv.URL, rule(t, r, "rate-limit"), `GroupId="@g"`, 1, r.now), r.srv.URL), 403},
		{"hostile key", strings.TrimPrefix(r.signer.Link(r.srv.URL, rule(t, r, "rate-limit"), hostileKey, 1, r.now), r.srv.URL), 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body := b.get(tt.path)
			if code != tt.want {
				t.Errorf("status %d, want %d", code, tt.want)
			}
			if strings.Contains(body, hostileGroup) {
				t.Error("the page carries a hostile key unescaped")
			}
			if tt.want != 200 {
				if resp, _ := b.post(tt.path, url.Values{"author": {"eve"}, "comment": {"c"}}); resp.StatusCode != tt.want {
					t.Errorf("submitted: status %d, want %d", resp.StatusCode, tt.want)
				}
			}
		})
	}
	if n := len(r.silences.List()); n != 1 {
		t.Errorf("%d silences after bad links, want 1", n)
	}
}
