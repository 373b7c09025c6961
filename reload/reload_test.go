package reload

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/rules"
)

// running records what a reload puts in place: the pipeline's rules, the
// server's signature checks, the dispatcher's notifiers.
type running struct {
	mu        sync.Mutex
	rules     *rules.Engine
	verifiers map[uint64]*callback.Verifier
	notifiers map[string]notify.Notifier
	level     slog.Level
	replaced  chan struct{} // a value per Replace
}

func (r *running) Set(l slog.Level) { r.mu.Lock(); r.level = l; r.mu.Unlock() }

func newRunning() *running {
	return &running{notifiers: map[string]notify.Notifier{}, replaced: make(chan struct{}, 100)}
}

func (r *running) SetRules(e *rules.Engine) { r.mu.Lock(); r.rules = e; r.mu.Unlock() }

func (r *running) Replace(v map[uint64]*callback.Verifier) {
	r.mu.Lock()
	r.verifiers = v
	r.mu.Unlock()
	r.replaced <- struct{}{}
}

func (r *running) SetNotifier(name string, n notify.Notifier) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notifiers[name] = n
	return true
}

// accepts reports whether the running check of app accepts a signature
// made with token.
func (r *running) accepts(app uint64, token string) bool {
	r.mu.Lock()
	v := r.verifiers[app]
	r.mu.Unlock()
	now := time.Now()
	rt := strconv.FormatInt(now.Unix(), 10)
	return v != nil && v.Verify(now, callback.Sign(token, rt), rt) == callback.AuthOK
}

func (r *running) swapped() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for name := range r.notifiers {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// baseConfig has every top-level key, each on its own, so that a test
// can change one.
var baseConfig = map[string]string{
	"listen":        "listen: 127.0.0.1:0",
	"callback_path": "callback_path: /callback",
	"data_dir":      "data_dir: ./data",
	"external_url":  "external_url: https://imalert.example.com",
	"apps":          "apps: [{sdkappid: 1400000000, tokens: [first-token-1a2b]}]",
	"rule_files":    "rule_files: [rules/*.yaml]",
	"receivers": `receivers:
  - {name: console, type: console}
  - {name: hook, type: webhook, url: "http://127.0.0.1:9/first"}`,
	"server":   "server: {read_timeout: 10s}",
	"throttle": "throttle: {max_keys: 1000}",
	"log":      "log: {level: info}",
	"codes":    "codes: {10023: {meaning: group over its rate}}",
	"callback": "callback: {freshness_window: 1m, dedup_window: 5m}",
	"admin":    "admin: {token: first-admin-token-123456}",
	"journal":  "journal: {retention: 24h}",
	"watchdog": "watchdog: {no_callbacks_for: 30m, receiver: console}",
	"silences": "silences: {max_duration: 7d}",
	"state":    "state: {backend: memory}",
}

const ruleFile = `rules:
  - name: rate-limit
    match: {error_code: 10023}
    receivers: [console, hook]
`

// writeConfig writes baseConfig with the keys of change replaced.
func writeConfig(t *testing.T, path string, change map[string]string) {
	t.Helper()
	var lines []string
	for key, v := range baseConfig {
		if c, ok := change[key]; ok {
			v = c
		}
		lines = append(lines, v)
	}
	slices.Sort(lines)
	writeFile(t, path, strings.Join(lines, "\n")+"\n")
}

// writeFile replaces path as editors do: a temporary file renamed over it.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp~"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// start loads the config at path and returns a Reloader of a daemon that
// started with it.
func start(t *testing.T, path string) (*Reloader, *running) {
	t.Helper()
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	run := newRunning()
	r := New(Options{Path: path, Initial: s, Rules: run, Verifiers: run, Notifiers: run, Level: run})
	return r, run
}

// Every top-level key of the config, changed on its own, is either applied
// by a reload or named as needing a restart: never silently ignored.
func TestReloadAppliesOrNamesEveryKey(t *testing.T) {
	tests := []struct {
		key     string
		change  string
		restart []string                   // named as needing a restart
		applied func(*testing.T, *running) // checks it runs
	}{
		{key: "listen", change: "listen: 127.0.0.2:0", restart: []string{"listen"}},
		{key: "callback_path", change: "callback_path: /im", restart: []string{"callback_path"}},
		{key: "data_dir", change: "data_dir: ./elsewhere", restart: []string{"data_dir"}},
		{key: "external_url", change: "external_url: https://alerts.example.com", restart: []string{"external_url"}},
		{key: "apps", change: "apps: [{sdkappid: 1400000000, tokens: [second-token-3c4d]}]", applied: func(t *testing.T, r *running) {
			if !r.accepts(1400000000, "second-token-3c4d") || r.accepts(1400000000, "first-token-1a2b") {
				t.Error("the new token is not the only one accepted")
			}
		}},
		{key: "apps", change: "apps: [{sdkappid: 1400000000, tokens: [first-token-1a2b]}, {sdkappid: 1400000001}]", restart: []string{"apps[1]"}},
		{key: "rule_files", change: "rule_files: [rules/*.yaml, more/*.yaml]", applied: func(t *testing.T, r *running) {
			if n := len(r.rules.Rules()); n != 2 {
				t.Errorf("%d rules running, want 2", n)
			}
		}},
		{key: "receivers", change: `receivers:
  - {name: console, type: console}
  - {name: hook, type: webhook, url: "http://127.0.0.1:9/second"}`, applied: func(t *testing.T, r *running) {
			if got := r.swapped(); !slices.Equal(got, []string{"hook"}) {
				t.Errorf("notifiers rebuilt: %v, want [hook]", got)
			}
		}},
		{key: "receivers", change: `receivers:
  - {name: console, type: console}
  - {name: hook, type: webhook, url: "http://127.0.0.1:9/first", retry: {initial: 5s}}`, restart: []string{"receivers.hook.retry.initial"}},
		{key: "server", change: "server: {read_timeout: 20s}", restart: []string{"server.read_timeout"}},
		{key: "throttle", change: "throttle: {max_keys: 7}", restart: []string{"throttle.max_keys"}},
		{key: "log", change: "log: {level: debug}", applied: func(t *testing.T, r *running) {
			if r.level != slog.LevelDebug {
				t.Errorf("log level %v, want debug", r.level)
			}
		}},
		{key: "log", change: "log: {level: info, format: json}", restart: []string{"log.format"}},
		{key: "codes", change: "codes: {10023: {meaning: group over its message rate}}", applied: func(t *testing.T, r *running) {
			if m := r.rules.Catalogue().Meaning(10023); m != "group over its message rate" {
				t.Errorf("code 10023 means %q in the running rules", m)
			}
		}},
		{key: "callback", change: "callback: {freshness_window: 2m, dedup_window: 5m}", applied: func(t *testing.T, r *running) {
			if !r.accepts(1400000000, "first-token-1a2b") {
				t.Error("the token no longer verifies")
			}
		}},
		{key: "callback", change: "callback: {freshness_window: 1m, dedup_window: 10m}", restart: []string{"callback.dedup_window"}},
		{key: "admin", change: "admin: {token: second-admin-token-123456}", restart: []string{"admin.token"}},
		{key: "journal", change: "journal: {retention: 48h}", restart: []string{"journal.retention"}},
		{key: "state", change: "state: {backend: memory, on_redis_error: fail_closed}", restart: []string{"state.on_redis_error"}},
		{key: "silences", change: "silences: {max_duration: 1d}", restart: []string{"silences.max_duration"}},
		{key: "watchdog", change: "watchdog: {no_callbacks_for: 1h, receiver: console}", restart: []string{"watchdog.no_callbacks_for"}},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.key] = true
		t.Run(tt.key+" "+strings.Join(tt.restart, ","), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "imalert.yaml")
			writeConfig(t, path, nil)
			writeFile(t, filepath.Join(dir, "rules", "im.yaml"), ruleFile)
			writeFile(t, filepath.Join(dir, "more", "im.yaml"), strings.ReplaceAll(ruleFile, "rate-limit", "more"))
			r, run := start(t, path)
			writeConfig(t, path, map[string]string{tt.key: tt.change})
			restart, err := r.reload(TriggerAPI)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.restart, restart); diff != "" {
				t.Errorf("named as needing a restart (-want +got):\n%s", diff)
			}
			if tt.applied != nil {
				tt.applied(t, run)
			}
			if tt.applied == nil && len(run.swapped()) > 0 {
				t.Errorf("notifiers rebuilt: %v", run.swapped())
			}
		})
	}
	// The table covers every key the config has: a new key needs a case.
	typ := reflect.TypeFor[config.Config]()
	for i := range typ.NumField() {
		name, _ := fieldName(typ.Field(i))
		if !covered[name] && !slices.Contains(notSettings, name) {
			t.Errorf("config key %s: no case changes it", name)
		}
	}
}

// A reload that points a rule's fallback at a receiver added since start
// fails like one naming it in receivers does: the receiver has no
// delivery queue until a restart.
func TestReloadRefusesNewReceiverInRules(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "imalert.yaml")
	writeConfig(t, path, nil)
	rulesPath := filepath.Join(dir, "rules", "im.yaml")
	writeFile(t, rulesPath, ruleFile)
	r, run := start(t, path)
	before := run.rules
	writeConfig(t, path, map[string]string{"receivers": baseConfig["receivers"] + "\n  - {name: later, type: console}"})
	for _, rules := range []string{ruleFile + "    fallback: {receiver: later}\n", "rules:\n  - name: r\n    receivers: [later]\n"} {
		writeFile(t, rulesPath, rules)
		if _, err := r.reload(TriggerAPI); err == nil || !strings.Contains(err.Error(), `receiver "later" is new`) {
			t.Errorf("reload with a rule naming a new receiver: err = %v", err)
		}
		if run.rules != before {
			t.Error("the running rules were replaced")
		}
	}
}

// An edit in progress must not reload a smaller rule set: a truncated
// file, a glob that lost every file, or a config with no rule left is
// refused and the running rules stay. Deleting one file of several is an
// edit, and is applied.
func TestReloadRefusesLostRules(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(t *testing.T, dir string)
		error string // "" : applied
		rules int
	}{
		{"a file truncated", func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "rules", "b.yaml"), "") },
			"b.yaml: reload refused: the file had 1 rule(s) and has none", 0},
		{"a file emptied to rules: []", func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "rules", "b.yaml"), "rules: []\n") },
			"b.yaml: reload refused: the file had 1 rule(s) and has none", 0},
		{"every file of a glob gone", func(t *testing.T, dir string) {
			for _, f := range []string{"a.yaml", "b.yaml"} {
				if err := os.Remove(filepath.Join(dir, "rules", f)); err != nil {
					t.Fatal(err)
				}
			}
			writeFile(t, filepath.Join(dir, "other", "c.yaml"), strings.ReplaceAll(ruleFile, "rate-limit", "c"))
		}, "matched 2 file(s) and matches none", 0},
		{"no rule left", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "imalert.yaml"), strings.Replace(readFile(t, filepath.Join(dir, "imalert.yaml")), "rule_files: [rules/*.yaml, other/*.yaml]", "rule_files: []", 1))
		}, "no rules: rule_files is empty", 0},
		{"one file of two deleted", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "rules", "b.yaml")); err != nil {
				t.Fatal(err)
			}
		}, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "imalert.yaml")
			writeConfig(t, path, map[string]string{"rule_files": "rule_files: [rules/*.yaml, other/*.yaml]"})
			writeFile(t, filepath.Join(dir, "rules", "a.yaml"), ruleFile)
			writeFile(t, filepath.Join(dir, "rules", "b.yaml"), strings.ReplaceAll(ruleFile, "rate-limit", "b"))
			r, run := start(t, path)
			tt.edit(t, dir)
			_, err := r.reload(TriggerWatch)
			switch {
			case tt.error == "" && err != nil:
				t.Fatalf("reload refused: %v", err)
			case tt.error != "" && (err == nil || !strings.Contains(err.Error(), tt.error)):
				t.Fatalf("reload error %v, want one containing %q", err, tt.error)
			}
			if tt.error == "" && len(run.rules.Rules()) != tt.rules {
				t.Errorf("%d rules running, want %d", len(run.rules.Rules()), tt.rules)
			}
			if tt.error != "" && run.rules != nil {
				t.Error("a refused reload replaced the running rules")
			}
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Receivers that share a pacer (the same webhook URL) cannot be given a
// notifier of their own without a restart; one whose URL was its own
// alone can.
func TestReloadReceiverSharingAPacer(t *testing.T) {
	two := func(a, b string) string {
		return "receivers:\n  - {name: console, type: console}\n  - {name: hook, type: webhook, url: \"" + a + "\"}\n  - {name: hook2, type: webhook, url: \"" + b + "\"}"
	}
	tests := []struct {
		name          string
		before, after string
		swapped       []string
		restart       []string
	}{
		{"own URL changed", two("http://127.0.0.1:9/a", "http://127.0.0.1:9/b"), two("http://127.0.0.1:9/c", "http://127.0.0.1:9/b"), []string{"hook"}, nil},
		{"shared URL split", two("http://127.0.0.1:9/a", "http://127.0.0.1:9/a"), two("http://127.0.0.1:9/c", "http://127.0.0.1:9/a"), nil, []string{"receivers.hook.url"}},
		{"URL made shared", two("http://127.0.0.1:9/a", "http://127.0.0.1:9/b"), two("http://127.0.0.1:9/b", "http://127.0.0.1:9/b"), nil, []string{"receivers.hook.url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "imalert.yaml")
			writeConfig(t, path, map[string]string{"receivers": tt.before})
			writeFile(t, filepath.Join(dir, "rules", "im.yaml"), ruleFile)
			r, run := start(t, path)
			writeConfig(t, path, map[string]string{"receivers": tt.after})
			restart, err := r.reload(TriggerAPI)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.restart, restart); diff != "" {
				t.Errorf("named as needing a restart (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.swapped, run.swapped()); diff != "" {
				t.Errorf("notifiers rebuilt (-want +got):\n%s", diff)
			}
		})
	}
}

// A revoked token stops working without a signal: the tokens_file is
// watched like the rule files.
func TestRunReloadsChangedSecretFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "imalert.yaml")
	tokens := filepath.Join(dir, "secrets", "tokens")
	writeFile(t, tokens, "first-token-1a2b\n")
	writeConfig(t, path, map[string]string{"apps": "apps: [{sdkappid: 1400000000, tokens_file: secrets/tokens}]"})
	writeFile(t, filepath.Join(dir, "rules", "im.yaml"), ruleFile)
	r, run := start(t, path)
	if got := secretFiles(r.cur.Config); !slices.Contains(got, tokens) {
		t.Fatalf("secret files %v lack %s", got, tokens)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx, nil) }()
	defer func() { cancel(); <-done }()
	// The watcher is in place once a change of the config reloads.
	waitReloads(t, run, func() { writeFile(t, path, readFile(t, path)+"\n") })

	writeFile(t, tokens, "second-token-3c4d\n")
	select {
	case <-run.replaced:
	case <-time.After(10 * time.Second):
		t.Fatal("no reload after the tokens file changed")
	}
	if !run.accepts(1400000000, "second-token-3c4d") || run.accepts(1400000000, "first-token-1a2b") {
		t.Error("the revoked token still verifies, or the new one does not")
	}
}

// waitReloads repeats touch until a reload follows it.
func waitReloads(t *testing.T, run *running, touch func()) {
	t.Helper()
	for range 100 {
		touch()
		select {
		case <-run.replaced:
			return
		case <-time.After(2 * Debounce):
		}
	}
	t.Fatal("changes of the config file do not reload")
}
