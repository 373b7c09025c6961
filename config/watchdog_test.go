package config

import (
	"strings"
	"testing"
	"time"
)

func TestWatchdogConfig(t *testing.T) {
	const base = "apps: [{sdkappid: 1400000000}]\nreceivers:\n  - {name: console, type: console}\n  - {name: ops-mail, type: console}\n"
	tests := []struct {
		name, doc, err string
	}{
		{"off by default", "", ""},
		{"both checks", "watchdog: {no_callbacks_for: 30m, receiver_failing_for: 10m, receiver: ops-mail}", ""},
		{"one check", "watchdog: {no_callbacks_for: 30m, receiver: ops-mail}", ""},
		{"no receiver", "watchdog: {no_callbacks_for: 30m}", "watchdog: receiver is required"},
		{"unknown receiver", "watchdog: {no_callbacks_for: 30m, receiver: pager}", `no receiver named "pager"`},
		{"no check", "watchdog: {receiver: ops-mail}", "set no_callbacks_for, receiver_failing_for or both"},
		{"too short", "watchdog: {receiver_failing_for: 10s, receiver: ops-mail}", "at least 1m"},
		{"typo", "watchdog: {no_callback_for: 30m, receiver: ops-mail}", "no_callback_for"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("imalert.yaml", []byte(base+tt.doc), func(string) (string, bool) { return "", false })
			if tt.err == "" {
				if err != nil {
					t.Fatalf("error: %v", err)
				}
				if tt.doc != "" && (c.Watchdog.Receiver != "ops-mail" || c.Watchdog.NoCallbacksFor.D() != 30*time.Minute) {
					t.Errorf("watchdog = %+v", c.Watchdog)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "imalert.yaml:") {
				t.Errorf("error = %v, want file:line and %q", err, tt.err)
			}
		})
	}
}
