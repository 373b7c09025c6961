package alert

import (
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/alert/mute"
	"github.com/imalert/imalert/alert/page"
)

// With external_url, every page links to its event's trace in the UI and
// carries a mute link for its rule and group key, signed with the server's
// key; without, pages carry no link.
func TestPageLinksToTrace(t *testing.T) {
	signer := mute.NewSigner([]byte("test key"))
	at := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	for _, tt := range []struct{ external, want string }{
		{"https://imalert.example.com/", "trace https://imalert.example.com/ui/events/1"},
		{"", ""},
	} {
		st := openStore(t, t.TempDir())
		p := NewPipeline(PipelineOptions{Rules: compile(t, throttledRule), Store: st, ExternalURL: tt.external, Mute: signer})
		ingest(t, p, raw("@g", 1, at))
		runStep(t, p)
		ns := outbox(t, st)
		if len(ns) != 2 {
			t.Fatalf("%d notifications, want 2", len(ns))
		}
		for _, n := range ns {
			text := page.Render(page.Build(n))
			if tt.want == "" {
				if n.Link != "" || n.MuteLink != "" || strings.Contains(text, "/ui/") {
					t.Errorf("without external_url: links %q, %q in\n%s", n.Link, n.MuteLink, text)
				}
				continue
			}
			if !strings.Contains(text, tt.want) {
				t.Errorf("page lacks %q:\n%s", tt.want, text)
			}
			const prefix = "mute 1 h https://imalert.example.com/ui/mute/"
			if !strings.Contains(text, prefix+strings.TrimPrefix(n.MuteLink, "https://imalert.example.com/ui/mute/")) || n.MuteLink == "" {
				t.Fatalf("page lacks its mute link %q:\n%s", n.MuteLink, text)
			}
			c, err := signer.Verify(strings.TrimPrefix(n.MuteLink, "https://imalert.example.com/ui/mute/"), at)
			if err != nil {
				t.Fatal(err)
			}
			if c.Rule != "r1" || c.Key != `GroupId="@g"` || c.Event != 1 || !c.ExpiresAt().Equal(at.Add(mute.Valid)) ||
				string(c.Matchers) != `{"GroupId":"@g","error_code":10023}` {
				t.Errorf("capability %+v matchers %s", c, c.Matchers)
			}
		}
	}
}
