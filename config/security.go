package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/imalert/imalert/internal/bodylimit"
	"github.com/imalert/imalert/internal/yamlfile"
)

// Callback configures how callback requests are admitted: signature
// freshness, replay protection, source addresses, rate and size limits.
type Callback struct {
	// FreshnessWindow is how far RequestTime may be from now, either way.
	FreshnessWindow yamlfile.Duration `yaml:"freshness_window"`
	// DedupWindow is how long a callback's de-duplication key is
	// remembered; a repeat inside it is acknowledged but not processed.
	// 0 turns de-duplication off.
	DedupWindow yamlfile.Duration `yaml:"dedup_window"`
	// DedupMaxKeys bounds the keys held; 0: the server's default
	// (server.DefaultDedupMaxKeys).
	DedupMaxKeys int `yaml:"dedup_max_keys"`
	// AllowCIDRs, when set, is the only source addresses callbacks are
	// taken from (after trusted proxies are accounted for).
	AllowCIDRs []string       `yaml:"allow_cidrs"`
	RateLimit  RateLimit      `yaml:"rate_limit"`
	Limits     Limits         `yaml:"limits"`
	AllowNets  []netip.Prefix `yaml:"-"` // AllowCIDRs, parsed
}

// RateLimit is a token bucket per source address (per /64 for IPv6).
type RateLimit struct {
	PerSecond  float64 `yaml:"per_second"`  // 0: no rate limit
	Burst      int     `yaml:"burst"`       // 0: the server's default, PerSecond rounded up
	MaxSources int     `yaml:"max_sources"` // 0: the server's default (server.DefaultMaxSources)
}

// Limits bound the work done on one callback body (callback.limits).
type Limits = bodylimit.Limits

// Admin configures the admin surface: /metrics, reload, the API and UI.
type Admin struct {
	// Listen, when set, serves the admin surface on its own address; the
	// callback listener then serves only the callback path and health.
	Listen    string `yaml:"listen"`
	Token     Secret `yaml:"token"`
	TokenFile string `yaml:"token_file"`
}

// TLS is the callback listener's certificate, PEM files re-read when they
// change on disk.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether the listener serves HTTPS.
func (t TLS) Enabled() bool { return t.CertFile != "" }

var defaultCallback = Callback{
	FreshnessWindow: yamlfile.Duration(time.Minute),
	DedupWindow:     yamlfile.Duration(5 * time.Minute),
	Limits:          bodylimit.Default(),
}

// Signed reports whether the app's callbacks must carry a valid signature.
func (a App) Signed() bool { return len(a.Tokens) > 0 }

// validateSecurity checks and resolves the keys of callback authentication,
// admission, the admin surface and TLS: it reads *_file secrets, drops
// empty tokens, parses address lists and resolves paths against the
// config file's directory.
func (c *Config) validateSecurity(doc *yamlfile.Doc) yamlfile.Errors {
	dir := configDir(c.File)
	errs := c.validateApps(doc, dir)
	errs = append(errs, c.validateCallback(doc, yamlfile.At(doc.Root, "callback"))...)
	errs = append(errs, c.validateServerSecurity(doc, yamlfile.At(doc.Root, "server"), dir)...)
	return append(errs, c.validateAdmin(doc, yamlfile.At(doc.Root, "admin"), dir)...)
}

// validateApps resolves each app's tokens and warns about unsigned apps.
func (c *Config) validateApps(doc *yamlfile.Doc, dir string) yamlfile.Errors {
	var errs yamlfile.Errors
	_, appsNode := yamlfile.Lookup(doc.Root, "apps")
	for i := range c.Apps {
		var n *yaml.Node
		if appsNode != nil && appsNode.Kind == yaml.SequenceNode && i < len(appsNode.Content) {
			n = appsNode.Content[i]
		}
		errs = append(errs, c.Apps[i].resolveTokens(doc, n, dir)...)
		if !c.Apps[i].Signed() {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: app %d has no tokens: its callbacks are accepted unsigned (set tokens to require IM's callback authentication)", c.File, c.Apps[i].SdkAppID))
		}
	}
	return errs
}

// validateCallback checks callback: freshness and de-duplication windows,
// the source allowlist, the rate limit and the body limits.
func (c *Config) validateCallback(doc *yamlfile.Doc, cbNode *yaml.Node) yamlfile.Errors {
	var errs yamlfile.Errors
	cb := &c.Callback
	cbAt := func(key string) *yaml.Node { return yamlfile.At(cbNode, key) }
	fresh := cb.FreshnessWindow.D()
	if fresh < time.Second || fresh > 24*time.Hour {
		errs = append(errs, doc.Errorf(cbAt("freshness_window"), "callback.freshness_window must be between 1s and 24h"))
	}
	if d := cb.DedupWindow.D(); d < 0 {
		errs = append(errs, doc.Errorf(cbAt("dedup_window"), "callback.dedup_window must not be negative"))
	} else if d > 0 && d < 2*fresh {
		errs = append(errs, doc.Errorf(cbAt("dedup_window"), "callback.dedup_window (%s) must be at least twice freshness_window (%s), or a replay of a signed request inside the signature's lifetime is processed again; 0 turns de-duplication off", d, fresh))
	}
	if cb.DedupMaxKeys < 0 {
		errs = append(errs, doc.Errorf(cbAt("dedup_max_keys"), "callback.dedup_max_keys must not be negative (0: the default)"))
	}
	_, allowNode := yamlfile.Lookup(cbNode, "allow_cidrs")
	cb.AllowNets = nil
	for i, s := range cb.AllowCIDRs {
		p, err := parsePrefix(s)
		if err != nil {
			errs = append(errs, doc.Errorf(item(allowNode, i), "callback.allow_cidrs: %s is not an IP address or CIDR", doc.Show(item(allowNode, i), s)))
			continue
		}
		cb.AllowNets = append(cb.AllowNets, p)
	}
	rl := &cb.RateLimit
	rlNode := cbAt("rate_limit")
	if rl.PerSecond < 0 {
		errs = append(errs, doc.Errorf(yamlfile.At(rlNode, "per_second"), "callback.rate_limit.per_second must not be negative (0: no limit)"))
	}
	if rl.Burst < 0 {
		errs = append(errs, doc.Errorf(yamlfile.At(rlNode, "burst"), "callback.rate_limit.burst must not be negative"))
	}
	if rl.MaxSources < 0 {
		errs = append(errs, doc.Errorf(yamlfile.At(rlNode, "max_sources"), "callback.rate_limit.max_sources must not be negative (0: the default)"))
	}
	limNode := cbAt("limits")
	for _, l := range cb.Limits.Settings() {
		if !l.OK() {
			errs = append(errs, doc.Errorf(yamlfile.At(limNode, l.Key), "callback.limits.%s must be between %d and %d", l.Key, l.Min, l.Max))
		}
	}
	return errs
}

// validateServerSecurity checks server.trusted_proxies and server.tls.
func (c *Config) validateServerSecurity(doc *yamlfile.Doc, srvNode *yaml.Node, dir string) yamlfile.Errors {
	var errs yamlfile.Errors
	_, proxNode := yamlfile.Lookup(srvNode, "trusted_proxies")
	for i, s := range c.Server.TrustedProxies {
		p, err := parsePrefix(s)
		if err != nil {
			errs = append(errs, doc.Errorf(item(proxNode, i), "server.trusted_proxies: %s is not an IP address or CIDR", doc.Show(item(proxNode, i), s)))
			continue
		}
		c.Server.TrustedProxies[i] = p.String()
	}
	return append(errs, c.Server.TLS.resolve(doc, yamlfile.At(srvNode, "tls"), dir)...)
}

// validateAdmin checks admin: its listener and its token, and warns about
// an admin surface exposed without one, or a short one.
func (c *Config) validateAdmin(doc *yamlfile.Doc, adminNode *yaml.Node, dir string) yamlfile.Errors {
	var errs yamlfile.Errors
	a := &c.Admin
	if a.Listen != "" {
		if _, _, err := net.SplitHostPort(a.Listen); err != nil {
			errs = append(errs, doc.Errorf(yamlfile.At(adminNode, "listen"), "admin.listen: want host:port, got %s", doc.Show(yamlfile.At(adminNode, "listen"), a.Listen)))
		} else if _, port, _ := net.SplitHostPort(a.Listen); a.Listen == c.Listen && port != "0" {
			errs = append(errs, doc.Errorf(yamlfile.At(adminNode, "listen"), "admin.listen must differ from listen"))
		}
	}
	errs = append(errs, resolveSecret(doc, adminNode, "token", &a.Token, a.TokenFile, dir, "admin")...)
	if _, tn := yamlfile.Lookup(adminNode, "token"); tn != nil && !a.Token.IsSet() {
		errs = append(errs, doc.EmptyError(tn, "admin.token"))
	}
	if w := c.AdminWarning(); w != "" {
		c.Warnings = append(c.Warnings, w)
	}
	if a.Token.IsSet() && len(a.Token) < MinAdminToken {
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s: admin.token is shorter than %d characters: use a long random one (openssl rand -hex 32)", c.name(), MinAdminToken))
	}
	return errs
}

// resolveTokens reads tokens_file, drops empty tokens and insists that an
// app written with tokens keeps at least one: an unset ${VAR} must not
// silently turn authentication off.
func (a *App) resolveTokens(doc *yamlfile.Doc, n *yaml.Node, dir string) yamlfile.Errors {
	var errs yamlfile.Errors
	_, listNode := yamlfile.Lookup(n, "tokens")
	_, fileNode := yamlfile.Lookup(n, "tokens_file")
	if listNode != nil && fileNode != nil {
		return yamlfile.Errors{doc.Errorf(fileNode, "app %d: set tokens or tokens_file, not both", a.SdkAppID)}
	}
	if fileNode != nil {
		data, err := readSecretFile(dir, a.TokensFile)
		if err != nil {
			return yamlfile.Errors{doc.Errorf(fileNode, "app %d: tokens_file: %v", a.SdkAppID, err)}
		}
		a.Tokens = nil
		for line := range strings.SplitSeq(string(data), "\n") {
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
				a.Tokens = append(a.Tokens, Secret(t))
			}
		}
		if len(a.Tokens) == 0 {
			errs = append(errs, doc.Errorf(fileNode, "app %d: tokens_file holds no token", a.SdkAppID))
		}
		return errs
	}
	if listNode == nil {
		return nil
	}
	var kept []Secret
	var missing []string
	for i, t := range a.Tokens {
		// A stray newline from $(cat file) must not make a token unusable.
		if v := strings.TrimSpace(t.Reveal()); v != "" {
			kept = append(kept, Secret(v))
			continue
		}
		if listNode.Kind == yaml.SequenceNode && i < len(listNode.Content) {
			missing = append(missing, doc.MissingEnv(listNode.Content[i])...)
		}
	}
	a.Tokens = kept
	if len(kept) == 0 {
		why := "it is empty"
		if len(missing) > 0 {
			why = "environment variable " + strings.Join(missing, ", ") + " is not set"
		} else if listNode.Kind == yaml.SequenceNode && len(listNode.Content) > 0 {
			why = "every token is empty"
		}
		errs = append(errs, doc.Errorf(listNode, "app %d: tokens: %s; an app with tokens needs at least one (remove tokens to accept unsigned callbacks)", a.SdkAppID, why))
	}
	return errs
}

// resolve checks the certificate pair now, so that check fails on a bad
// one, and makes the paths absolute.
func (t *TLS) resolve(doc *yamlfile.Doc, n *yaml.Node, dir string) yamlfile.Errors {
	if t.CertFile == "" && t.KeyFile == "" {
		return nil
	}
	if t.CertFile == "" || t.KeyFile == "" {
		return yamlfile.Errors{doc.Errorf(n, "server.tls: set both cert_file and key_file")}
	}
	t.CertFile, t.KeyFile = resolvePath(dir, t.CertFile), resolvePath(dir, t.KeyFile)
	if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
		return yamlfile.Errors{doc.Errorf(n, "server.tls: %s", certError(err))}
	}
	return nil
}

// certError describes a key-pair load failure without quoting file content.
func certError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + " " + pe.Path + ": " + pe.Err.Error()
	}
	return strings.TrimPrefix(err.Error(), "tls: ")
}

// resolveSecret reads key_file (named by file) into *s, checking that at
// most one of key and key_file is set. what prefixes messages.
func resolveSecret(doc *yamlfile.Doc, n *yaml.Node, key string, s *Secret, file, dir, what string) yamlfile.Errors {
	_, plain := yamlfile.Lookup(n, key)
	_, fileNode := yamlfile.Lookup(n, key+"_file")
	if plain != nil && fileNode != nil {
		return yamlfile.Errors{doc.Errorf(fileNode, "%s: set %s or %s_file, not both", what, key, key)}
	}
	if fileNode == nil {
		return nil
	}
	data, err := readSecretFile(dir, file)
	if err != nil {
		return yamlfile.Errors{doc.Errorf(fileNode, "%s: %s_file: %v", what, key, err)}
	}
	v := strings.TrimSpace(string(data))
	if v == "" {
		return yamlfile.Errors{doc.Errorf(fileNode, "%s: %s_file: the file is empty", what, key)}
	}
	*s = Secret(v)
	return nil
}

// maxSecretFile bounds what a *_file may hold; secrets are short.
const maxSecretFile = 64 << 10

// readSecretFile reads a secret file, relative to the config's directory.
// Errors name the path, never the content.
func readSecretFile(dir, name string) ([]byte, error) {
	if name == "" {
		return nil, errors.New("no file named")
	}
	p := resolvePath(dir, name)
	f, err := os.Open(p)
	if err != nil {
		return nil, unwrapPathErr(p, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, unwrapPathErr(p, err)
	}
	if len(data) > maxSecretFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", p, maxSecretFile)
	}
	return data, nil
}

func unwrapPathErr(p string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", p, pe.Err)
	}
	return fmt.Errorf("%s: %w", p, err)
}

func configDir(file string) string {
	if file == BuiltinName || file == "" {
		return "."
	}
	return filepath.Dir(file)
}

func resolvePath(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// parsePrefix reads an IP address (a single-address prefix) or a CIDR.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// item returns the i-th element of a sequence node, or the node itself.
func item(n *yaml.Node, i int) *yaml.Node {
	if n != nil && n.Kind == yaml.SequenceNode && i < len(n.Content) {
		return n.Content[i]
	}
	return n
}

// loopback reports whether a listen address binds only loopback.
func loopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
