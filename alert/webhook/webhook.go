// Package webhook delivers notifications as a JSON POST to any URL, for
// systems imalert has no dedicated receiver for. The payload (Payload) is
// versioned and documented; with a shared secret each request is signed
// with HMAC-SHA256 so the receiving end can verify where it came from and
// when. A body_template replaces the payload with any JSON a service takes
// (PagerDuty, Teams, Opsgenie), rendered from it.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"text/template"
	"time"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/page"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/config"
)

// Request headers.
const (
	// HeaderID carries the notification id. A retried delivery carries the
	// same id, so the receiving end can drop duplicates.
	HeaderID = "X-Imalert-Id"
	// HeaderTimestamp is the Unix time, in seconds, of the attempt.
	HeaderTimestamp = "X-Imalert-Timestamp"
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256, keyed with the
	// shared secret, of the timestamp, a dot, and the body.
	HeaderSignature = "X-Imalert-Signature"
)

// Version is the payload version; it changes only when a field changes
// meaning or goes away.
const Version = 1

// Notifier posts to one URL.
type Notifier struct {
	url     string
	secret  []byte
	client  *http.Client
	now     func() time.Time
	headers http.Header
	// tmpl, when set, renders the body instead of the payload; tmplErr is
	// why body_template does not compile (check reports it first).
	tmpl    *template.Template
	tmplErr error
}

// New returns a Notifier for cfg. client must carry a timeout.
func New(cfg *config.WebhookReceiver, client *http.Client) *Notifier {
	n := &Notifier{url: cfg.URL.Reveal(), client: client, now: time.Now, headers: http.Header{}}
	if cfg.Secret.IsSet() {
		n.secret = []byte(cfg.Secret.Reveal())
	}
	for k, v := range cfg.Headers {
		n.headers.Set(k, v.Reveal())
	}
	if cfg.BodyTemplate != "" {
		n.tmpl, n.tmplErr = parseTemplate(cfg.BodyTemplate)
	}
	return n
}

// body is the request body for n: the payload, or body_template's JSON.
func (w *Notifier) body(n *notify.Notification) ([]byte, error) {
	if w.tmplErr != nil {
		return nil, notify.Permanent("template", fmt.Errorf("webhook: %w", w.tmplErr))
	}
	if w.tmpl == nil {
		b, err := json.Marshal(Build(n))
		if err != nil {
			return nil, notify.Permanent("payload", fmt.Errorf("webhook: payload: %w", err))
		}
		return b, nil
	}
	b, err := render(w.tmpl, Build(n))
	if err != nil {
		return nil, notify.Permanent("template", fmt.Errorf("webhook: %w", err))
	}
	return b, nil
}

// Payload is the JSON body of every request.
type Payload struct {
	Version  int    `json:"version"`
	ID       string `json:"id"`
	Kind     string `json:"kind"` // "event" or "digest"
	Receiver string `json:"receiver"`
	Rule     string `json:"rule"`
	RuleFile string `json:"rule_file,omitempty"`
	RuleLine int    `json:"rule_line,omitempty"`
	Severity string `json:"severity"`
	GroupKey string `json:"group_key,omitempty"`
	// Title and Text are the page's first line and one-line summary.
	Title     string    `json:"title"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
	// Event is the callback the page is about; absent for a digest.
	Event *Event `json:"event,omitempty"`
	// Suppressed counts the events this page stands for besides its own:
	// what the throttle held back since the previous page, plus the pages
	// merged into this one while delivery was delayed.
	Suppressed *Suppressed `json:"suppressed,omitempty"`
	Merged     int         `json:"merged"`
	Digest     *Digest     `json:"digest,omitempty"`
	// Silence is set for kind silence_ended.
	Silence *SilenceEnded `json:"silence,omitempty"`
	// Storm is set for kind storm.
	Storm *Storm `json:"storm,omitempty"`
	// Budget is set for a page sent inside its receiver's budget period.
	Budget *BudgetPage `json:"budget,omitempty"`
}

// BudgetPage is which page of its receiver's budget period a page is.
type BudgetPage struct {
	N          int     `json:"n"`
	Pages      int     `json:"pages"`
	PerSeconds float64 `json:"per_seconds"`
}

// Event is the callback a page is about. Strings are cleaned of control
// characters and truncated; they are still untrusted user content.
type Event struct {
	CallbackCommand string     `json:"callback_command"`
	SdkAppID        uint64     `json:"sdkappid"`
	GroupID         string     `json:"group_id,omitempty"`
	GroupType       string     `json:"group_type,omitempty"`
	FromAccount     string     `json:"from_account,omitempty"`
	OperatorAccount string     `json:"operator_account,omitempty"`
	ErrorCode       *int64     `json:"error_code,omitempty"`
	ErrorInfo       string     `json:"error_info,omitempty"`
	CodeMeaning     string     `json:"code_meaning,omitempty"`
	EventTime       *time.Time `json:"event_time,omitempty"`
	ReceivedAt      time.Time  `json:"received_at"`
	OptPlatform     string     `json:"opt_platform,omitempty"`
	ClientIP        string     `json:"client_ip,omitempty"`
	Excerpt         string     `json:"excerpt,omitempty"`
}

// Suppressed is the count a page carries.
type Suppressed struct {
	Count         int        `json:"count"`
	WindowSeconds float64    `json:"window_seconds"`
	Since         *time.Time `json:"since,omitempty"`
	First         *time.Time `json:"first,omitempty"`
	Last          *time.Time `json:"last,omitempty"`
}

// Digest is a rule's summary over one window.
type Digest struct {
	Start        time.Time      `json:"start"`
	End          time.Time      `json:"end"`
	Total        int            `json:"total"`
	ByErrorCode  map[string]int `json:"by_error_code"`
	ByGroupType  map[string]int `json:"by_group_type"`
	TopGroups    []Count        `json:"top_groups"`
	TopSenders   []Count        `json:"top_senders"`
	OtherGroups  int            `json:"other_groups"`
	OtherSenders int            `json:"other_senders"`
}

// Count is one row of a digest table.
type Count struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// Build returns the payload for n.
func Build(n *notify.Notification) *Payload {
	p := page.Build(n)
	out := &Payload{
		Version: Version, ID: n.ID, Kind: "event", Receiver: n.Receiver, Rule: n.Rule, RuleFile: n.RuleFile,
		RuleLine: n.RuleLine, Severity: n.Severity, GroupKey: page.Clean(n.GroupKey, page.MaxField),
		Title: p.Title, Text: p.Preview, CreatedAt: n.CreatedAt.UTC(), Merged: n.Merged,
	}
	if b := n.Budget; b != nil {
		out.Budget = &BudgetPage{N: b.N, Pages: b.Pages, PerSeconds: b.Per.Seconds()}
	}
	if d := n.Digest; d != nil {
		out.Kind = "digest"
		out.Digest = &Digest{
			Start: d.Start.UTC(), End: d.End.UTC(), Total: d.Total,
			ByErrorCode: d.ByCode, ByGroupType: d.ByGroupType,
			TopGroups: counts(notify.Top(d.Groups, page.DigestTop)), TopSenders: counts(notify.Top(d.Senders, page.DigestTop)),
			OtherGroups: d.OtherGroups, OtherSenders: d.OtherSenders,
		}
		return out
	}
	if n.Silence != nil {
		out.Kind = notify.KindSilenceEnded
		out.Silence = silenceEnded(n.Silence)
		return out
	}
	if s := n.Storm; s != nil {
		out.Kind = notify.KindStorm
		out.Storm = storm(s)
		out.Suppressed = &Suppressed{Count: s.Held}
		return out
	}
	if t := n.Throttle; n.Quiet {
		out.Kind = notify.KindSummary
		out.Suppressed = &Suppressed{Count: t.Suppressed, WindowSeconds: t.Window.Seconds(),
			Since: timePtr(t.Since), First: timePtr(t.First), Last: timePtr(t.Last)}
		return out
	}
	ev := n.Event
	e := &Event{
		CallbackCommand: ev.Command, SdkAppID: ev.AppID,
		GroupID: page.Clean(ev.GroupID, page.MaxField), GroupType: page.Clean(ev.GroupType, 32),
		FromAccount: page.Clean(ev.FromAccount, page.MaxField), OperatorAccount: page.Clean(ev.OperatorAccount, page.MaxField),
		ErrorInfo: page.Clean(ev.ErrorInfo, page.MaxErrorInfo), CodeMeaning: n.CodeMeaning,
		ReceivedAt: ev.ReceivedAt.UTC(), OptPlatform: page.Clean(ev.OptPlatform, 32), ClientIP: page.Clean(ev.ClientIP, 64),
		Excerpt: page.Clean(ev.Excerpt(), page.MaxExcerpt),
	}
	if ev.Present.Has(callback.FieldErrorCode) {
		c := ev.ErrorCode
		e.ErrorCode = &c
	}
	if t := ev.Time(); !t.IsZero() {
		e.EventTime = &t
	}
	out.Event = e
	if t := n.Throttle; t.Suppressed > 0 || t.Window > 0 {
		out.Suppressed = &Suppressed{Count: t.Suppressed, WindowSeconds: t.Window.Seconds(),
			Since: timePtr(t.Since), First: timePtr(t.First), Last: timePtr(t.Last)}
	}
	return out
}

func counts(cs []notify.Count) []Count {
	out := make([]Count, len(cs))
	for i, c := range cs {
		out[i] = Count{Name: page.Clean(c.Name, page.MaxField), Count: c.Count}
	}
	return out
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// Sign returns the signature header value for body sent at timestamp ts
// (decimal Unix seconds) with secret.
func Sign(secret []byte, ts string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether sig is the signature of body sent at ts with
// secret, for receiving ends written in Go. Callers should also reject
// timestamps far from their own clock, against replays.
func Verify(secret []byte, ts string, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(secret, ts, body)), []byte(sig))
}

// Notify implements notify.Notifier with one POST.
func (w *Notifier) Notify(ctx context.Context, n *notify.Notification) error {
	body, err := w.body(n)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return notify.Permanent("config", errors.New("webhook: bad url"))
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "imalert")
	for k, v := range w.headers {
		req.Header[k] = v
	}
	req.Header.Set(HeaderID, n.ID)
	req.Header.Set(HeaderTimestamp, ts)
	if w.secret != nil {
		req.Header.Set(HeaderSignature, Sign(w.secret, ts, body))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		// The URL is a secret: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			reason := "transport"
			if ue.Timeout() {
				reason = "timeout"
			}
			return notify.Retryable(reason, fmt.Errorf("webhook: post: %w", ue.Err))
		}
		return notify.Retryable("transport", fmt.Errorf("webhook: post: %w", err))
	}
	// Drain a little so the connection can be reused; never echo it.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	_ = resp.Body.Close()
	return classify(resp.StatusCode, resp.Header.Get("Retry-After"), w.now())
}

// maxRetryAfter caps a destination's requested wait.
const maxRetryAfter = time.Hour

// classify reads an HTTP answer: 2xx delivered; 408, 429 and 5xx retried
// (after Retry-After, if given); any other status is final.
func classify(status int, retryAfter string, now time.Time) error {
	if status >= 200 && status < 300 {
		return nil
	}
	reason := "http_" + strconv.Itoa(status)
	e := fmt.Errorf("webhook: HTTP %d", status)
	if status != http.StatusRequestTimeout && status != http.StatusTooManyRequests && status < 500 {
		return notify.Permanent(reason, e)
	}
	return &notify.DeliveryError{Retryable: true, Reason: reason, RetryAfter: parseRetryAfter(retryAfter, now), Err: e}
}

// parseRetryAfter reads Retry-After as seconds or as an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.Atoi(v); err == nil {
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}
