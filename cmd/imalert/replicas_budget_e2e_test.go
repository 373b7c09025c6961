package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/internal/testutil"
)

// Three replicas share one budget per receiver: together they send at
// most its pages in a period, and their storm pages account for every
// page held back on any of them.
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
	// storm pages account for all of them.
	deadline := time.Now().Add(30 * time.Second)
	var events, held, storms int
	for {
		events, held, storms = 0, 0, 0
		for _, r := range hook.Requests() {
			var p struct {
				Kind  string `json:"kind"`
				Storm struct {
					Held int `json:"held"`
				} `json:"storm"`
			}
			if err := json.Unmarshal(r.Body, &p); err != nil {
				t.Fatal(err)
			}
			switch p.Kind {
			case "storm":
				storms++
				held += p.Storm.Held
			case "event":
				events++
			}
		}
		if events+held >= callbacks || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if events != pages || held != callbacks-pages {
		t.Errorf("%d pages sent and %d held in %d storm pages; want %d sent and %d held", events, held, storms, pages, callbacks-pages)
	}
	if storms < 1 || storms > 3 {
		t.Errorf("%d storm pages, want one to three (one per replica that held pages)", storms)
	}
}
