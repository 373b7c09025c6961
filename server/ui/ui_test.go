package ui_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/imalert/imalert/store"
)

func get(t *testing.T, c *http.Client, u string, header bool) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if header {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// Every page renders without JavaScript for a client with the token in
// the header, and callback strings come out escaped.
func TestPagesWithHeaderToken(t *testing.T) {
	r := newRig(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		path string
		want []string
	}{
		{"/ui/", []string{"Events per minute", "10023", "ops-mail", "failing", "rate-limit", "Top groups"}},
		{"/ui/events", []string{"#4", "content-filter", "throttled", "&lt;img src=x onerror=alert(1)&gt;"}},
		{"/ui/events?group_id=%40TGS%232J4SZEAEL", []string{"#1", "#2"}},
		{"/ui/events/2", []string{"throttled", "left of the 10m window", "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"}},
		{"/ui/events/1", []string{"The page as rendered", "ops-slack", "pending"}},
		{"/ui/deliveries", []string{"Dead letters", r.dead, "smtp: 550 mailbox unavailable", "Requeue"}},
		{"/ui/rules", []string{"rate-limit", "rules.yaml:2", "throttle 10m", "3 within 5m", "Dry run"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			code, body := get(t, noRedirect, r.srv.URL+tt.path, true)
			if code != 200 {
				t.Fatalf("status %d, want 200:\n%s", code, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, bad := range []string{hostileGroup, "<script>alert", "<b>later</b>", "<!channel>"} {
				if strings.Contains(body, bad) {
					t.Errorf("page carries %q unescaped", bad)
				}
			}
		})
	}
	code, body := get(t, noRedirect, r.srv.URL+"/ui/events/99", true)
	if code != 404 {
		t.Errorf("missing event: status %d, want 404: %s", code, body)
	}
	if code, body := get(t, noRedirect, r.srv.URL+"/ui/events?error_code=%3Cx%3E", true); code != 400 || !strings.Contains(body, "error_code: want an integer") {
		t.Errorf("bad filter: status %d, want 400 with the reason on the page", code)
	}
}

// Without a token, pages send the browser to the login form; the form
// sets an HttpOnly, SameSite=Strict cookie; forms need the CSRF token.
func TestLoginCookieAndCSRF(t *testing.T) {
	r := newRig(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	noRedirect := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if code, _ := get(t, noRedirect, r.srv.URL+"/ui/deliveries", false); code != http.StatusSeeOther {
		t.Fatalf("unauthenticated page: status %d, want 303 to the login form", code)
	}
	_, form := get(t, c, r.srv.URL+"/ui/login", false)
	m := csrfRE.FindStringSubmatch(form)
	if m == nil {
		t.Fatalf("login form without a CSRF token:\n%s", form)
	}
	post := func(path string, v url.Values) *http.Response {
		t.Helper()
		resp, err := noRedirect.PostForm(r.srv.URL+path, v)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post("/ui/login", url.Values{"csrf": {m[1]}, "token": {"wrong"}}); resp.StatusCode != 401 {
		t.Errorf("wrong token: status %d, want 401", resp.StatusCode)
	}
	if resp := post("/ui/login", url.Values{"token": {token}}); resp.StatusCode != 403 {
		t.Errorf("login without CSRF token: status %d, want 403", resp.StatusCode)
	}
	resp := post("/ui/login", url.Values{"csrf": {m[1]}, "token": {token}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: status %d, want 303", resp.StatusCode)
	}
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "imalert_session" {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || strings.Contains(session.Value, token) {
		t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Strict, without the token", session)
	}
	code, page := get(t, c, r.srv.URL+"/ui/deliveries", false)
	if code != 200 || !strings.Contains(page, r.dead) {
		t.Fatalf("deliveries after login: status %d", code)
	}
	csrf := csrfRE.FindStringSubmatch(page)[1]
	if resp := post("/ui/deliveries/requeue", url.Values{"id": {r.dead}}); resp.StatusCode != 403 {
		t.Errorf("requeue without CSRF token: status %d, want 403", resp.StatusCode)
	}
	wrong := "0" + csrf[1:]
	if csrf[0] == '0' {
		wrong = "1" + csrf[1:]
	}
	if resp := post("/ui/deliveries/requeue", url.Values{"id": {r.dead}, "csrf": {wrong}}); resp.StatusCode != 403 {
		t.Errorf("requeue with a wrong CSRF token: status %d, want 403", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, r.srv.URL+"/ui/deliveries/requeue", strings.NewReader(url.Values{"id": {r.dead}, "csrf": {csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if resp, err := noRedirect.Do(req); err != nil || resp.StatusCode != 403 {
		t.Errorf("requeue from another origin: %v, %v; want 403", resp, err)
	}
	// Behind a proxy that names the public host in X-Forwarded-Host.
	req, _ = http.NewRequest(http.MethodPost, r.srv.URL+"/ui/deliveries/requeue", strings.NewReader(url.Values{"id": {r.dead}, "csrf": {csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://imalert.example.com")
	req.Header.Set("X-Forwarded-Host", "imalert.example.com")
	if resp, err := noRedirect.Do(req); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("requeue: %v, %v; want 303", resp, err)
	}
	rows, _ := r.st.Deliveries(context.Background(), store.Filter{State: store.Dead})
	if len(rows) != 0 {
		t.Errorf("dead letters after requeue: %d, want 0", len(rows))
	}
	if resp := post("/ui/logout", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("logout: status %d", resp.StatusCode)
	}
	if code, _ := get(t, noRedirect, r.srv.URL+"/ui/deliveries", false); code != http.StatusSeeOther {
		t.Errorf("after logout: status %d, want 303 to the login form", code)
	}
}

// Without admin.token the UI is open, as the admin API is, but its forms
// still need the CSRF token.
func TestOpenWithoutToken(t *testing.T) {
	r := newRigWith(t, "")
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	code, page := get(t, c, r.srv.URL+"/ui/deliveries", false)
	if code != 200 || !strings.Contains(page, r.dead) || strings.Contains(page, "Log out") {
		t.Fatalf("open deliveries page: status %d", code)
	}
	if code, _ := get(t, c, r.srv.URL+"/ui/login", false); code != http.StatusSeeOther {
		t.Errorf("login form of an open UI: status %d, want 303 to the overview", code)
	}
	resp, err := c.PostForm(r.srv.URL+"/ui/deliveries/requeue", url.Values{"id": {r.dead}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("requeue without CSRF token on an open UI: status %d, want 403", resp.StatusCode)
	}
}

// The overview shows each receiver's page budget and its open period; a
// receiver without a budget is not listed.
func TestOverviewShowsBudgets(t *testing.T) {
	r := newRig(t)
	code, page := get(t, http.DefaultClient, r.srv.URL+"/ui/", true)
	if code != 200 {
		t.Fatalf("overview: status %d", code)
	}
	i := strings.Index(page, "Page budgets")
	if i < 0 {
		t.Fatalf("no budgets on the overview:\n%s", page)
	}
	section := page[i:]
	section = section[:strings.Index(section, "</section>")]
	for _, want := range []string{"ops-slack", "5 per 20s"} {
		if !strings.Contains(section, want) {
			t.Errorf("budgets section lacks %q:\n%s", want, section)
		}
	}
	if strings.Contains(section, "No period open") {
		t.Errorf("the open period is not shown:\n%s", section)
	}
	if strings.Contains(section, "ops-mail") {
		t.Errorf("a receiver without a budget is listed:\n%s", section)
	}
}
