package reload

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/config"
)

func parse(t *testing.T, doc string) *config.Config {
	t.Helper()
	if !strings.Contains(doc, "apps:") {
		doc = "apps: [{sdkappid: 1400000000}]\n" + doc
	}
	c, err := config.Parse("/etc/imalert/imalert.yaml", []byte(doc), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	return c
}

// Changes names each changed setting by its path in the file: a list of
// named items by name, a receiver's typed settings without the type, a
// derived value by what it is derived from.
func TestChanges(t *testing.T) {
	tests := []struct {
		name   string
		a, b   string
		want   []string
		reason string
	}{
		{"nothing", "listen: 127.0.0.1:1\n", "listen: 127.0.0.1:1\n", nil, ""},
		{"a default written out is no change", "", "server: {read_timeout: 10s}\n", nil, ""},
		{"nested setting", "", "callback: {rate_limit: {per_second: 5}}\n", []string{"callback.rate_limit.per_second"}, "an unset burst is derived by the server, not written into the config"},
		{"derived list named by its source", "", "callback: {allow_cidrs: [10.0.0.0/8]}\n", []string{"callback.allow_cidrs"}, ""},
		{"receiver found by name, not position",
			"receivers: [{name: a, type: console}, {name: b.c, type: webhook, url: 'http://x/1'}]\n",
			"receivers: [{name: b.c, type: webhook, url: 'http://x/2'}, {name: a, type: console}]\n",
			[]string{"receivers.b.c.url"}, ""},
		{"receiver added and removed",
			"receivers: [{name: a, type: console}]\n",
			"receivers: [{name: b, type: console}]\n",
			[]string{"receivers.a", "receivers.b"}, ""},
		{"receiver type changed",
			"receivers: [{name: a, type: console}]\n",
			"receivers: [{name: a, type: webhook, url: 'http://x/1'}]\n",
			[]string{"receivers.a.type"}, "the typed settings' change is named by the type"},
		{"app by position", "", "apps: [{sdkappid: 1400000000, tokens: [abcdefgh]}]\n", []string{"apps[0].tokens"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Changes(parse(t, tt.a), parse(t, tt.b))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("changes (-want +got) %s:\n%s", tt.reason, diff)
			}
		})
	}
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{"Listen": "listen", "CallbackPath": "callback_path", "SdkAppID": "sdk_app_id", "RuleFiles": "rule_files", "TLS": "tls"} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q) = %q, want %q", in, got, want)
		}
	}
}
