// Package config is imalert's daemon configuration: the YAML schema, its
// defaults, ${VAR} expansion, the Secret type and validation with file:line
// errors. It imports no other imalert package.
package config

import (
	_ "embed"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/imalert/imalert/internal/bodylimit"
	"github.com/imalert/imalert/internal/yamlfile"
)

// callbackPathRE is a literal URL path: no route parameters (":x", "*x")
// that the router would read as patterns, no query or fragment.
var callbackPathRE = regexp.MustCompile(`^(/[A-Za-z0-9._~!$&'()+,;=@%-]+)+/?$|^/$`)

// Config is the daemon configuration, validated and with defaults applied.
type Config struct {
	Listen       string
	CallbackPath string
	DataDir      string // absolute, or relative to the working directory for the built-in config
	ExternalURL  string // public URL of this imalert, for links in pages; "": no links
	Apps         []App
	RuleFiles    []string // glob patterns, resolved against the config file's directory
	Receivers    []Receiver
	Server       Server
	Throttle     Throttle
	Log          Log
	Codes        []Code // error-code catalogue entries (codes:)
	Callback     Callback
	Admin        Admin
	Journal      Journal
	State        State
	Watchdog     Watchdog
	Silences     Silences

	// File is the path the config was read from, or "" for the built-in one.
	File string
	// Warnings are problems that do not stop imalert from running.
	Warnings []string
}

// App is one IM application whose callbacks imalert accepts.
type App struct {
	SdkAppID uint64 `yaml:"sdkappid"`
	// Tokens are the app's callback authentication tokens, any of which
	// may sign (rotation). Empty entries are dropped at load; an app with
	// tokens never accepts an unsigned callback.
	Tokens     []Secret `yaml:"tokens"`
	TokensFile string   `yaml:"tokens_file"`
}

// Server holds the HTTP listener's limits.
type Server struct {
	ReadHeaderTimeout yamlfile.Duration `yaml:"read_header_timeout"`
	ReadTimeout       yamlfile.Duration `yaml:"read_timeout"`
	WriteTimeout      yamlfile.Duration `yaml:"write_timeout"`
	IdleTimeout       yamlfile.Duration `yaml:"idle_timeout"`
	ShutdownTimeout   yamlfile.Duration `yaml:"shutdown_timeout"`
	MaxBodyBytes      int64             `yaml:"max_body_bytes"`
	TrustedProxies    []string          `yaml:"trusted_proxies"`
	TLS               TLS               `yaml:"tls"`
}

// Throttle bounds the in-memory throttle state.
type Throttle struct {
	MaxKeys int `yaml:"max_keys"`
}

// DefaultMaxKeys bounds the decision state keys held in memory (throttle
// windows, threshold counts, first-seen marks) when max_keys is not set.
const DefaultMaxKeys = 100_000

// Log configures the daemon's own log on stderr.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text, json
}

// wire is the YAML document as written.
type wire struct {
	Listen       string      `yaml:"listen"`
	CallbackPath string      `yaml:"callback_path"`
	DataDir      string      `yaml:"data_dir"`
	ExternalURL  string      `yaml:"external_url"`
	Apps         []App       `yaml:"apps"`
	RuleFiles    []string    `yaml:"rule_files"`
	Receivers    []yaml.Node `yaml:"receivers"`
	Server       Server      `yaml:"server"`
	Throttle     Throttle    `yaml:"throttle"`
	Log          Log         `yaml:"log"`
	Codes        yaml.Node   `yaml:"codes"`
	Callback     Callback    `yaml:"callback"`
	Admin        Admin       `yaml:"admin"`
	Journal      Journal     `yaml:"journal"`
	State        State       `yaml:"state"`
	Watchdog     Watchdog    `yaml:"watchdog"`
	Silences     Silences    `yaml:"silences"`
}

// defaults are the values of keys a config leaves out.
var defaults = wire{
	Listen:       "127.0.0.1:8080",
	CallbackPath: "/callback",
	DataDir:      "./data",
	Server: Server{
		ReadHeaderTimeout: yamlfile.Duration(5 * time.Second),
		ReadTimeout:       yamlfile.Duration(10 * time.Second),
		WriteTimeout:      yamlfile.Duration(10 * time.Second),
		IdleTimeout:       yamlfile.Duration(2 * time.Minute),
		ShutdownTimeout:   yamlfile.Duration(10 * time.Second),
		MaxBodyBytes:      bodylimit.DefaultMaxBodyBytes,
	},
	Throttle: Throttle{MaxKeys: DefaultMaxKeys},
	Log:      Log{Level: "info", Format: "text"},
	Callback: defaultCallback,
	Journal:  defaultJournal,
	State:    defaultState,
	Silences: defaultSilences,
}

//go:embed default.yaml
var builtin []byte

// BuiltinName is the file name errors and logs use for the built-in config.
const BuiltinName = "<built-in>/imalert.yaml"

// Default returns the built-in configuration: listen on 127.0.0.1:8080 and
// print pages to the console. It has no rule files; the built-in rules go
// with it.
func Default() *Config {
	c, err := Parse(BuiltinName, builtin, func(string) (string, bool) { return "", false })
	if err != nil {
		panic("config: built-in config is invalid: " + err.Error())
	}
	c.File = ""
	return c
}

// Load reads and validates the config file at path. Environment variables
// are looked up with os.LookupEnv.
func Load(path string) (*Config, error) { return LoadWith(path, LoadOptions{}) }

// LoadWith is Load with options.
func LoadWith(path string, o LoadOptions) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return ParseWith(path, data, os.LookupEnv, o)
}

// Parse decodes and validates a config document. Every problem found is
// reported, as yamlfile.Errors with file:line positions. When the document
// is valid YAML, the config is returned even with errors, so that callers
// can go on to check what depends on it (rule files) in the same run.
func Parse(file string, data []byte, env func(string) (string, bool)) (*Config, error) {
	return ParseWith(file, data, env, LoadOptions{})
}

// ParseWith is Parse with options.
func ParseWith(file string, data []byte, env func(string) (string, bool), o LoadOptions) (*Config, error) {
	doc, err := yamlfile.Parse(file, data)
	if err != nil {
		return nil, err
	}
	doc.ExpandEnvOr(env, o.placeholder())
	w := defaults
	// Keep default values for nested structs the document only partly sets.
	errs := doc.Decode(doc.Root, &w)
	c := &Config{
		Listen:       w.Listen,
		CallbackPath: w.CallbackPath,
		DataDir:      w.DataDir,
		ExternalURL:  strings.TrimRight(w.ExternalURL, "/"),
		Apps:         w.Apps,
		Server:       w.Server,
		Throttle:     w.Throttle,
		Log:          w.Log,
		Callback:     w.Callback,
		Admin:        w.Admin,
		Journal:      w.Journal,
		State:        w.State,
		Watchdog:     w.Watchdog,
		Silences:     w.Silences,
		File:         file,
	}
	if c.DataDir == "" {
		errs = append(errs, doc.Errorf(yamlfile.At(doc.Root, "data_dir"), "data_dir must not be empty: the journal and the outbox live there"))
	}
	dir := filepath.Dir(file)
	if file != BuiltinName && c.DataDir != "" && !filepath.IsAbs(c.DataDir) {
		c.DataDir = filepath.Join(dir, c.DataDir)
	}
	for _, p := range w.RuleFiles {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		c.RuleFiles = append(c.RuleFiles, p)
	}
	errs = append(errs, c.validate(doc)...)
	var cerrs yamlfile.Errors
	c.Codes, cerrs = decodeCodes(doc, &w.Codes)
	errs = append(errs, cerrs...)
	errs = append(errs, c.validateSecurity(doc)...)
	names := map[string]bool{}
	for i := range w.Receivers {
		r, rerrs := decodeReceiver(doc, &w.Receivers[i])
		errs = append(errs, rerrs...)
		if r.Name != "" {
			if names[r.Name] {
				errs = append(errs, doc.Errorf(yamlfile.At(&w.Receivers[i], "name"), "receivers: duplicate name %q", r.Name))
			}
			names[r.Name] = true
		}
		c.Receivers = append(c.Receivers, r)
	}
	errs = append(errs, c.Watchdog.validate(doc, yamlfile.At(doc.Root, "watchdog"), names)...)
	for _, p := range doc.Placeholders() {
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s:%d: environment variable %s is not set: a placeholder stands in for it here; serve refuses to start without it", file, p.Line, p.Var))
	}
	if len(errs) > 0 {
		errs.Sort()
		return c, errs
	}
	return c, nil
}

func (c *Config) validate(doc *yamlfile.Doc) yamlfile.Errors {
	var errs yamlfile.Errors
	at := func(key string) *yaml.Node { return yamlfile.At(doc.Root, key) }
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, doc.Errorf(at("listen"), "listen: want host:port, got %s", doc.Show(at("listen"), c.Listen)))
	}
	if !callbackPathRE.MatchString(c.CallbackPath) || strings.HasPrefix(c.CallbackPath, "/-/") ||
		c.CallbackPath == "/metrics" || strings.HasPrefix(c.CallbackPath, "/api/") {
		errs = append(errs, doc.Errorf(at("callback_path"), "callback_path: want a literal path starting with / (no :, *, ? or #) outside /-/, /api/ and /metrics, got %s", doc.Show(at("callback_path"), c.CallbackPath)))
	}
	if c.ExternalURL != "" && !strings.HasPrefix(c.ExternalURL, "http://") && !strings.HasPrefix(c.ExternalURL, "https://") {
		errs = append(errs, doc.Errorf(at("external_url"), "external_url: want an http:// or https:// URL"))
	}
	_, appsNode := yamlfile.Lookup(doc.Root, "apps")
	if len(c.Apps) == 0 {
		errs = append(errs, doc.Errorf(at("apps"), "apps: at least one app (sdkappid) is required; callbacks from other apps are refused"))
	}
	seen := map[uint64]bool{}
	for i, a := range c.Apps {
		n := appsNode
		if appsNode != nil && i < len(appsNode.Content) {
			n = yamlfile.At(appsNode.Content[i], "sdkappid")
		}
		if a.SdkAppID == 0 && (n == nil || n.Value == "" || n.Value == "0") { // other values: a type error, already reported
			errs = append(errs, doc.Errorf(n, "apps: sdkappid is required and must be a positive number"))
		} else if seen[a.SdkAppID] {
			errs = append(errs, doc.Errorf(n, "apps: duplicate sdkappid %d", a.SdkAppID))
		}
		seen[a.SdkAppID] = true
	}
	for _, p := range c.RuleFiles {
		if _, err := filepath.Match(p, ""); err != nil {
			errs = append(errs, doc.Errorf(at("rule_files"), "rule_files: bad pattern %q", p))
		}
	}
	s := c.Server
	for _, d := range []struct {
		key string
		v   yamlfile.Duration
	}{
		{"read_header_timeout", s.ReadHeaderTimeout}, {"read_timeout", s.ReadTimeout},
		{"write_timeout", s.WriteTimeout}, {"idle_timeout", s.IdleTimeout}, {"shutdown_timeout", s.ShutdownTimeout},
	} {
		if d.v <= 0 {
			errs = append(errs, doc.Errorf(yamlfile.At(at("server"), d.key), "server.%s must be positive", d.key))
		}
	}
	if s.MaxBodyBytes < 1024 || s.MaxBodyBytes > 64<<20 {
		errs = append(errs, doc.Errorf(yamlfile.At(at("server"), "max_body_bytes"), "server.max_body_bytes must be between 1024 and 67108864"))
	}
	errs = append(errs, c.Journal.validate(doc, at("journal"))...)
	_, stateNode := yamlfile.Lookup(doc.Root, "state")
	errs = append(errs, c.State.validate(doc, stateNode)...)
	errs = append(errs, c.Silences.validate(doc, at("silences"))...)
	if c.Throttle.MaxKeys < 1 {
		errs = append(errs, doc.Errorf(yamlfile.At(at("throttle"), "max_keys"), "throttle.max_keys must be at least 1"))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, doc.Errorf(yamlfile.At(at("log"), "level"), "log.level: want debug, info, warn or error, got %q", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		errs = append(errs, doc.Errorf(yamlfile.At(at("log"), "format"), "log.format: want text or json, got %q", c.Log.Format))
	}
	return errs
}

// AppIDs returns the configured SdkAppids.
func (c *Config) AppIDs() []uint64 {
	ids := make([]uint64, len(c.Apps))
	for i, a := range c.Apps {
		ids[i] = a.SdkAppID
	}
	return ids
}

// ReceiverNames returns the set of configured receiver names.
func (c *Config) ReceiverNames() map[string]bool {
	m := make(map[string]bool, len(c.Receivers))
	for _, r := range c.Receivers {
		m[r.Name] = true
	}
	return m
}

// Secrets returns every secret in the config, for redaction.
func (c *Config) Secrets() []Secret {
	var out []Secret
	for _, r := range c.Receivers {
		out = append(out, r.secrets()...)
	}
	for _, a := range c.Apps {
		out = append(out, a.Tokens...)
	}
	return append(out, c.Admin.Token, c.State.Redis.Password)
}
