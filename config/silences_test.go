package config

import (
	"strings"
	"testing"
	"time"
)

func TestSilencesMaxDuration(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       time.Duration
		err        string
	}{
		{"default", "", 7 * 24 * time.Hour, ""},
		{"set", "silences: {max_duration: 2d}\n", 48 * time.Hour, ""},
		{"too short", "silences: {max_duration: 10s}\n", 0, ":3: silences.max_duration must be at least 1m"},
		{"typo", "silences: {max_duraton: 2d}\n", 0, `unknown key "max_duraton"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("s.yaml", []byte("apps: [{sdkappid: 1400000000}]\nreceivers: [{name: c, type: console}]\n"+tt.yaml), func(string) (string, bool) { return "", false })
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Silences.MaxDuration.D(); got != tt.want {
				t.Errorf("max_duration = %s, want %s", got, tt.want)
			}
		})
	}
}
