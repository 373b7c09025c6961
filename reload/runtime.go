package reload

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"strconv"

	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/alert/dingtalk"
	"github.com/imalert/imalert/alert/email"
	"github.com/imalert/imalert/alert/feishu"
	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/slack"
	"github.com/imalert/imalert/alert/webhook"
	"github.com/imalert/imalert/alert/wecom"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/server"
)

// This file is the one place where config types become the runtime types
// of the packages that use them: the daemon builds from it at start, and a
// reload rebuilds from it what it applies.

// Verifiers returns the signature check of every app with tokens.
func (s *Set) Verifiers() map[uint64]*callback.Verifier {
	out := make(map[uint64]*callback.Verifier)
	for _, a := range s.Config.Apps {
		if !a.Signed() {
			continue
		}
		tokens := make([]string, len(a.Tokens))
		for i, t := range a.Tokens {
			tokens[i] = t.Reveal()
		}
		out[a.SdkAppID] = callback.NewVerifier(tokens, s.Config.Callback.FreshnessWindow.D())
	}
	return out
}

// ServerOptions returns the server's options that come from the config;
// the caller adds its collaborators (logger, metrics, ingester, reloader,
// deliveries, verifiers).
func (s *Set) ServerOptions() server.Options {
	cfg := s.Config
	return server.Options{
		CallbackPath:      cfg.CallbackPath,
		Apps:              cfg.AppIDs(),
		MaxBodyBytes:      cfg.Server.MaxBodyBytes,
		Limits:            s.Limits(),
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout.D(),
		ReadTimeout:       cfg.Server.ReadTimeout.D(),
		WriteTimeout:      cfg.Server.WriteTimeout.D(),
		IdleTimeout:       cfg.Server.IdleTimeout.D(),
		ShutdownTimeout:   cfg.Server.ShutdownTimeout.D(),
		TrustedProxies:    cfg.Server.TrustedProxies,
		AllowNets:         cfg.Callback.AllowNets,
		RateLimit: server.RateLimit{
			PerSecond:  cfg.Callback.RateLimit.PerSecond,
			Burst:      cfg.Callback.RateLimit.Burst,
			MaxSources: cfg.Callback.RateLimit.MaxSources,
		},
		DedupWindow:   cfg.Callback.DedupWindow.D(),
		DedupMaxKeys:  cfg.Callback.DedupMaxKeys,
		AdminToken:    cfg.Admin.Token.Reveal(),
		SeparateAdmin: cfg.Admin.Listen != "",
		TLSCertFile:   cfg.Server.TLS.CertFile,
		TLSKeyFile:    cfg.Server.TLS.KeyFile,
	}
}

// Admission returns the server's checks of a callback's query and body.
func (s *Set) Admission() server.Admission { return s.ServerOptions().Admission() }

// Limits returns the parser's limits of one callback body: config and
// callback share one type.
func (s *Set) Limits() callback.Limits { return s.Config.Callback.Limits }

// Destinations returns one delivery destination per configured receiver.
// Receivers of type console share cons, which prints pages.
func (s *Set) Destinations(cons notify.Notifier) []delivery.Destination {
	out := make([]delivery.Destination, 0, len(s.Config.Receivers))
	for _, r := range s.Config.Receivers {
		out = append(out, destination(r, cons, s.Config.ExternalURL))
	}
	return out
}

// destination builds the destination of receiver r; cons is the notifier
// of console receivers; externalURL is the config's external_url, for
// links. Receivers that post to the same place share a pace
// key, so they share pacing and Retry-After.
func destination(r config.Receiver, cons notify.Notifier, externalURL string) delivery.Destination {
	d := delivery.Destination{
		Name:   r.Name,
		Retry:  r.Retry,
		Budget: r.Budget,
		Pace:   r.Pace,
	}
	switch {
	case r.Console != nil:
		d.Notifier = cons
		d.PaceKey = "console"
	case r.Slack != nil:
		d.Notifier = slack.New(r.Slack, &http.Client{Timeout: r.Slack.Timeout.D()})
		d.Timeout = r.Slack.Timeout.D()
		if r.Slack.WebhookURL.IsSet() {
			d.PaceKey = "slack-webhook " + digest(r.Slack.WebhookURL.Reveal())
		} else {
			d.PaceKey = "slack " + r.Slack.APIURL + " " + r.Slack.Channel
			if r.Slack.Repeats != config.RepeatsNew {
				d.IncidentTTL = r.Slack.IncidentTTL.D()
			}
		}
	case r.Email != nil:
		d.Notifier = email.New(r.Email)
		d.Timeout = r.Email.Timeout.D()
		d.PaceKey = "smtp " + net.JoinHostPort(r.Email.SMTPHost, strconv.Itoa(r.Email.SMTPPort))
	case r.Webhook != nil:
		d.Notifier = webhook.New(r.Webhook, &http.Client{Timeout: r.Webhook.Timeout.D()})
		d.Timeout = r.Webhook.Timeout.D()
		d.PaceKey = "webhook " + digest(r.Webhook.URL.Reveal())
	case r.WeCom != nil:
		d.Notifier = wecom.New(r.WeCom, &http.Client{Timeout: r.WeCom.Timeout.D()})
		d.Timeout = r.WeCom.Timeout.D()
		d.PaceKey = "wecom " + digest(r.WeCom.WebhookURL.Reveal())
	case r.DingTalk != nil:
		d.Notifier = dingtalk.New(r.DingTalk, &http.Client{Timeout: r.DingTalk.Timeout.D()})
		d.Timeout = r.DingTalk.Timeout.D()
		d.PaceKey = "dingtalk " + digest(r.DingTalk.WebhookURL.Reveal())
	case r.Feishu != nil:
		d.Notifier = feishu.New(r.Feishu, &http.Client{Timeout: r.Feishu.Timeout.D()}, externalURL)
		d.Timeout = r.Feishu.Timeout.D()
		d.PaceKey = "feishu " + digest(r.Feishu.WebhookURL.Reveal())
	}
	return d
}

// digest identifies a secret URL without holding it.
func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}
