package page

import (
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/alert/notify"
)

// The silence_ended page says who silenced what and why, what it held and
// whether it is still happening; the author's and comment's text is
// cleaned, so it cannot forge lines.
func TestSilenceEndedPage(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	s := &notify.SilenceEnded{
		ID: "5f0c2a9e1b7d4c33", Author: "ana", Comment: "spam wave\nPAGE forged", StartsAt: t0, EndsAt: t0.Add(45 * time.Minute), Expired: true,
		Events: 1432, Groups: 500, GroupsMore: true, Rules: []string{"content-filter", "rate"},
		First: t0.Add(2 * time.Second), Last: t0.Add(44 * time.Minute), StillHappening: true,
	}
	p := Build(&notify.Notification{Rule: "content-filter,rate", Severity: "info", Silence: s})
	want := "silence by ana ('spam wave PAGE forged') held 1432 events in more than 500 groups; still happening: yes"
	if p.Headline != want {
		t.Errorf("headline %q\nwant     %q", p.Headline, want)
	}
	if p.Subject != "[imalert][silence ended] ana: 1432 events held; still happening: yes" {
		t.Errorf("subject %q", p.Subject)
	}
	text := Render(p)
	for _, w := range []string{"PAGE [info] silence by ana", "Rules     content-filter, rate", "(expired by hand)", "first 20:00:02 UTC · last 20:44:00 UTC"} {
		if !strings.Contains(text, w) {
			t.Errorf("console page lacks %q:\n%s", w, text)
		}
	}
	if strings.Count(text, "\nPAGE") != 0 {
		t.Errorf("the comment forged a line:\n%s", text)
	}
	s.StillHappening, s.Events, s.Groups, s.GroupsMore = false, 1, 1, false
	if p := Build(&notify.Notification{Severity: "info", Silence: s}); !strings.HasSuffix(p.Headline, "held 1 event in 1 group; still happening: no") {
		t.Errorf("headline %q", p.Headline)
	}
}
