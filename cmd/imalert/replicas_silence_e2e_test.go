package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/internal/testutil"
)

// listedSilence is what a test reads of GET /api/v1/silences.
type listedSilence struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Silenced int    `json:"silenced"`
}

func listSilences(t *testing.T, d *testutil.Daemon) []listedSilence {
	t.Helper()
	resp, err := http.Get(d.URL("/api/v1/silences"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Silences []listedSilence }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("silences listing: %v", err)
	}
	return out.Silences
}

// waitSilence polls d's listing until silence id satisfies ok.
func waitSilence(t *testing.T, d *testutil.Daemon, id, what string, ok func(listedSilence) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		last := listSilences(t, d)
		for _, s := range last {
			if s.ID == id && ok(s) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("silence %s never %s on %s: %+v", id, what, d.URL(""), last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A silence made through one replica's API holds the callbacks that
// arrive at every replica, counts them all, and, expired through another
// replica, ends everywhere with exactly one end notice carrying the
// whole count.
func TestReplicasShareSilences(t *testing.T) {
	redis := testutil.StartRedis(t)
	hook := testutil.NewChatBot(t, "/hook", "", `{}`)
	ds := startReplicas(t, 3, writeReplicaSetup(t, redis.Addr, "fail_open", "1h"), hook.URL)

	body := `{"matchers": {"error_code": [10023]}, "duration": "1h", "author": "ana", "comment": "rate limits under review"}`
	resp, err := http.Post(ds[0].URL("/api/v1/silences"), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var made listedSilence
	err = json.NewDecoder(resp.Body).Decode(&made)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || err != nil || made.ID == "" {
		t.Fatalf("POST silence on A: %d %+v (%v)", resp.StatusCode, made, err)
	}
	for _, d := range ds[1:] {
		waitSilence(t, d, made.ID, "listed active", func(s listedSilence) bool { return s.State == "active" })
	}

	const held = 9
	for i := range held {
		postToReplica(t, ds[i%3], "@TGS#S")
	}
	waitProcessed(t, ds, held)
	if n := len(hook.Requests()); n != 0 {
		t.Fatalf("%d pages while the silence held every callback", n)
	}
	for _, d := range ds {
		waitSilence(t, d, made.ID, "counting all three replicas", func(s listedSilence) bool { return s.Silenced == held })
	}

	// Expired through C: every replica sees it end; one of them reports.
	req, _ := http.NewRequest(http.MethodDelete, ds[2].URL("/api/v1/silences/"+made.ID), nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE silence on C: %d", resp.StatusCode)
	}
	for _, d := range ds {
		waitSilence(t, d, made.ID, "expired", func(s listedSilence) bool { return s.State == "expired" })
	}
	// Past the end's grace, a callback on each replica pages (one group
	// each); the batch that decides it decides the end notice too.
	time.Sleep(1500 * time.Millisecond)
	for i, d := range ds {
		postToReplica(t, d, "@TGS#after"+string(rune('0'+i)))
	}
	hook.WaitRequests(4, 20*time.Second)
	waitProcessed(t, ds, held+3)
	ends, events := 0, 0
	for _, r := range hook.Requests() {
		var p struct {
			Kind    string `json:"kind"`
			Silence struct {
				ID     string `json:"id"`
				Events int    `json:"events"`
			} `json:"silence"`
		}
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatal(err)
		}
		switch p.Kind {
		case "silence_ended":
			ends++
			if p.Silence.ID != made.ID || p.Silence.Events != held {
				t.Errorf("end notice %+v, want silence %s with %d events", p.Silence, made.ID, held)
			}
		case "event":
			events++
		}
	}
	if ends != 1 || events != 3 {
		t.Errorf("%d end notices and %d event pages, want 1 and 3", ends, events)
	}
}
