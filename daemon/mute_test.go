package daemon

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/internal/testutil"
)

var (
	muteLinkRE = regexp.MustCompile(`https://imalert\.example\.com/ui/mute/[A-Za-z0-9_.-]+`)
	csrfRE     = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)
)

// With external_url, a Slack page carries its mute link; opened without
// logging in and confirmed, the link makes a one-hour silence of the
// page's group, listed by the API as made from the link, and the group's
// next callback pages no one and is counted.
func TestMuteLinkFromSlack(t *testing.T) {
	s := testutil.NewSlack(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "imalert.yaml")
	writeFile(t, path, "external_url: https://imalert.example.com\nadmin: {token: mute-test-token}\n"+
		receiverConfig("type: slack\n    webhook_url: "+s.WebhookURL()+"\n    pace: 0s"))
	writeFile(t, filepath.Join(dir, "rules.yaml"), "rules:\n  - name: rate-limit\n    match: {error_code: 10023}\n    group_by: [GroupId]\n    throttle: 0s\n    receivers: [out]\n")
	d, _ := startDaemon(t, path)

	callback(t, d, "@TGS#muted")
	msgs := s.WaitMessages(1, 10*time.Second)
	if len(msgs) != 1 {
		t.Fatal("no page reached Slack")
	}
	text := strings.Join(testutil.JSONStrings(msgs[0].Payload), " ")
	link := muteLinkRE.FindString(text)
	if link == "" || !strings.Contains(text, "trace https://imalert.example.com/ui/events/1") {
		t.Fatalf("Slack page lacks its trace and mute links:\n%s", text)
	}
	base := "http://" + d.AdminAddr()
	local := base + strings.TrimPrefix(link, "https://imalert.example.com")
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(local)
	if err != nil {
		t.Fatal(err)
	}
	form, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRE.FindSubmatch(form)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("mute form: status %d:\n%s", resp.StatusCode, form)
	}
	resp, err = c.PostForm(local, url.Values{"csrf": {string(m[1])}, "author": {"oncall"}, "comment": {"known load test"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("confirm: status %d", resp.StatusCode)
	}

	again := `{"CallbackCommand":"Group.CallbackSendMsgException","GroupId":"@TGS#muted","Type":"Public","ErrorCode":10023,"EventTime":1764400000001,"Random":2}`
	if resp := post(t, "http://"+d.Addr()+"/callback?SdkAppid=1400000000&CallbackCommand=Group.CallbackSendMsgException", again); resp.StatusCode != 200 {
		t.Fatalf("callback answered %d", resp.StatusCode)
	}
	callback(t, d, "@TGS#other")
	if msgs := s.WaitMessages(2, 10*time.Second); len(msgs) != 2 || !strings.Contains(strings.Join(testutil.JSONStrings(msgs[1].Payload), " "), "@TGS#other") {
		t.Fatalf("after the mute: %d pages, want the other group's only", len(msgs))
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/silences", nil)
	req.Header.Set("Authorization", "Bearer mute-test-token")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Silences []struct {
			Author   string          `json:"author"`
			Via      string          `json:"created_via"`
			Matchers json.RawMessage `json:"matchers"`
			Silenced int             `json:"silenced"`
		} `json:"silences"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if len(list.Silences) != 1 || list.Silences[0].Via != "link" || list.Silences[0].Author != "oncall" ||
		string(list.Silences[0].Matchers) != `{"GroupId":"@TGS#muted","error_code":10023}` || list.Silences[0].Silenced != 1 {
		t.Fatalf("silences %+v, want the link's one, which held one event", list.Silences)
	}
}
