package config

import (
	"strings"
	"testing"
	"time"
)

func TestBudget(t *testing.T) {
	env := func(string) (string, bool) { return "https://hooks.example.com/x", true }
	tests := []struct {
		name, receiver string
		want           Budget
		err            string
	}{
		{"as in the issue", "{name: r, type: webhook, url: ${HOOK_URL}, budget: {pages: 5, per: 20s}}", Budget{5, 20 * time.Second}, ""},
		{"webhook: none by default", "{name: r, type: webhook, url: ${HOOK_URL}}", Budget{}, ""},
		{"chat default", "{name: r, type: slack, webhook_url: ${HOOK_URL}}", DefaultChatBudget, ""},
		{"chat: pages only", "{name: r, type: wecom, webhook_url: ${HOOK_URL}, budget: {pages: 5}}", Budget{5, time.Minute}, ""},
		{"chat: off", "{name: r, type: slack, webhook_url: ${HOOK_URL}, budget: {pages: 0}}", Budget{}, ""},
		{"no per", "{name: r, type: webhook, url: ${HOOK_URL}, budget: {pages: 5}}", Budget{}, `receiver "r": budget: per is required`},
		{"no pages", "{name: r, type: webhook, url: ${HOOK_URL}, budget: {per: 1m}}", Budget{}, `receiver "r": budget: pages is required`},
		{"negative", "{name: r, type: webhook, url: ${HOOK_URL}, budget: {pages: -1, per: 1m}}", Budget{}, `budget.pages must not be negative`},
		{"too long", "{name: r, type: webhook, url: ${HOOK_URL}, budget: {pages: 1, per: 2d}}", Budget{}, `budget.per must be between 1s and 24h`},
		{"typo", "{name: r, type: webhook, url: ${HOOK_URL}, budget: {page: 1, per: 1m}}", Budget{}, `unknown key "page"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("b.yaml", []byte("apps: [{sdkappid: 1400000000}]\nreceivers:\n  - "+tt.receiver+"\n"), env)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Receivers[0].Budget; got != tt.want {
				t.Errorf("budget = %+v, want %+v", got, tt.want)
			}
		})
	}
}
