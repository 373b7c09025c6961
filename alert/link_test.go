package alert

import (
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/alert/page"
)

// With external_url, every page links to its event's trace in the UI;
// without, pages carry no link.
func TestPageLinksToTrace(t *testing.T) {
	for _, tt := range []struct{ external, want string }{
		{"https://imalert.example.com/", "trace https://imalert.example.com/ui/events/1"},
		{"", ""},
	} {
		st := openStore(t, t.TempDir())
		p := NewPipeline(PipelineOptions{Rules: compile(t, throttledRule), Store: st, ExternalURL: tt.external})
		ingest(t, p, raw("@g", 1, time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)))
		runStep(t, p)
		ns := outbox(t, st)
		if len(ns) != 2 {
			t.Fatalf("%d notifications, want 2", len(ns))
		}
		for _, n := range ns {
			text := page.Render(page.Build(n))
			if tt.want == "" {
				if n.Link != "" || strings.Contains(text, "/ui/events/") {
					t.Errorf("without external_url: link %q in\n%s", n.Link, text)
				}
				continue
			}
			if !strings.Contains(text, tt.want) {
				t.Errorf("page lacks %q:\n%s", tt.want, text)
			}
		}
	}
}
