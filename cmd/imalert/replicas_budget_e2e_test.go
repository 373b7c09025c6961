package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/alert/webhook"
	"github.com/imalert/imalert/internal/testutil"
)

// Three replicas share one budget per receiver: together they send at
// most its pages in a period, and one storm page, sent by one of them,
// accounts for every page held back on any of them.
func TestReplicasShareBudget(t *testing.T) {
	redis := testutil.StartRedis(t)
	hook := testutil.NewChatBot(t, "/hook", "", `{}`)
	cfg := writeReplicaSetup(t, redis.Addr, "fail_open", "1h")
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const pages = 5
	withBudget := strings.Replace(string(data), "    retry:", fmt.Sprintf("    budget: {pages: %d, per: 3s}\n    retry:", pages), 1)
	if err := os.WriteFile(cfg, []byte(withBudget), 0o644); err != nil {
		t.Fatal(err)
	}
	ds := startReplicas(t, 3, cfg, hook.URL)

	const callbacks = 15 // one group each: every one is a page
	for i := range callbacks {
		postToReplica(t, ds[i%3], fmt.Sprintf("@TGS#budget%02d", i))
	}
	waitProcessed(t, ds, callbacks)

	// Every page is either sent or held for a storm page: wait until the
	// storm pages received account for all of them and no replica holds
	// a page or has one to send (a second storm page would be in an
	// outbox by then).
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if events, _, held := budgetPages(t, hook); events+held >= callbacks && outboxesSettled(t, ds) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	events, storms, _ := budgetPages(t, hook)
	merged, stormRows := 0, 0
	for _, d := range ds { // the held pages stay recorded where they were held
		merged += len(outboxRows(t, d, "state=merged"))
		for _, r := range outboxRows(t, d, "state=sent") {
			if r.Rule == "(budget)" {
				stormRows++
			}
		}
	}
	if merged != callbacks-pages || stormRows != 1 {
		t.Errorf("replicas' outboxes: %d pages merged, %d storm pages; want %d and 1", merged, stormRows, callbacks-pages)
	}
	if events != pages || len(storms) != 1 {
		t.Fatalf("%d pages sent and %d storm pages %+v; want %d sent and one storm page", events, len(storms), storms, pages)
	}
	s := storms[0].Storm
	if s.Held != callbacks-pages || s.Sent != pages || s.Events != callbacks-pages || s.ByRule["group-rate-limit"] != callbacks-pages ||
		s.ByErrorCode["10023"] != callbacks-pages || len(s.TopSenders) != 1 || s.TopSenders[0].Count != callbacks-pages {
		t.Errorf("storm page %+v; want %d held of %d events of rule group-rate-limit, code 10023, one sender, after %d sent",
			s, callbacks-pages, callbacks-pages, pages)
	}
	replicas := map[int]bool{} // group i was posted to replica i%3
	for _, g := range s.TopGroups {
		var i int
		if _, err := fmt.Sscanf(g.Name, "@TGS#budget%d", &i); err != nil || g.Count != 1 {
			t.Errorf("top group %+v, want one of the groups posted, once", g)
		}
		replicas[i%3] = true
	}
	if len(s.TopGroups) < 3 || len(replicas) < 2 {
		t.Errorf("top groups %+v: want groups held on more than one replica", s.TopGroups)
	}
}

type sharedStorm struct {
	Storm struct {
		Held, Sent, Events int
		ByRule             map[string]int  `json:"by_rule"`
		ByErrorCode        map[string]int  `json:"by_error_code"`
		TopGroups          []webhook.Count `json:"top_groups"`
		TopSenders         []webhook.Count `json:"top_senders"`
		OtherGroups        int             `json:"other_groups"`
	} `json:"storm"`
}

// outboxesSettled reports whether no replica holds a page or has one to
// send.
func outboxesSettled(t *testing.T, ds []*testutil.Daemon) bool {
	t.Helper()
	for _, d := range ds {
		if len(outboxRows(t, d, "state=held"))+len(outboxRows(t, d, "state=pending")) > 0 {
			return false
		}
	}
	return true
}

// budgetPages counts the event pages the hook received, and returns its
// storm pages and the pages they held.
func budgetPages(t *testing.T, hook *testutil.ChatBot) (events int, storms []sharedStorm, held int) {
	t.Helper()
	for _, r := range hook.Requests() {
		var p struct {
			Kind string `json:"kind"`
		}
		var s sharedStorm
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatal(err)
		}
		switch p.Kind {
		case "storm":
			if err := json.Unmarshal(r.Body, &s); err != nil {
				t.Fatal(err)
			}
			storms = append(storms, s)
			held += s.Storm.Held
		case "event":
			events++
		}
	}
	return events, storms, held
}
