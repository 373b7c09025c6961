package ui

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/imalert/imalert/alert"
	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/alert/page"
	"github.com/imalert/imalert/alert/state"
	"github.com/imalert/imalert/alert/trace"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/store"
)

type window struct {
	Rule, Key  string
	End        time.Time
	Left       string
	Suppressed int
}

const (
	maxWindowsShown = 50
	windowsScanned  = 5000
	// windowsHorizon leaves out first-seen marks (kept a year) from the
	// states read for open windows (kept a day past their end at most).
	windowsHorizon = 30 * 24 * time.Hour
)

func (u *UI) overview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := u.o.Now()
	data := map[string]any{}
	if s := u.o.Stats; s != nil {
		data["Hour"] = newChart("Last hour", s.PerMinute(now, 60, 6), now, 60)
		data["Day"] = newChart("Last day", s.PerMinute(now, 24*60, 6), now, 24*60)
		data["Groups"], data["Senders"] = s.Top(10)
		if now.Sub(u.started) < 24*time.Hour {
			data["Since"] = u.started
		}
	}
	health, err := u.health(r)
	if err != nil {
		u.o.Logger.Error("reading receiver health failed", "err", err)
	}
	data["Health"] = health
	ws, err := u.o.Store.ActiveWindows(ctx, now, now.Add(windowsHorizon), windowsScanned)
	if err != nil {
		u.o.Logger.Error("reading throttle windows failed", "err", err)
	}
	var open []window
	for _, sw := range ws {
		st, err := state.Unmarshal(sw.Data)
		if err != nil || !st.End.After(now) || len(open) == maxWindowsShown {
			continue
		}
		key, group, _ := strings.Cut(sw.Key, "\x00")
		rule, _, _ := strings.Cut(key, "#")
		open = append(open, window{Rule: rule, Key: group, End: st.End, Left: page.Duration(st.End.Sub(now).Round(time.Second)),
			Suppressed: st.Suppressed})
	}
	slices.SortFunc(open, func(a, b window) int { return a.End.Compare(b.End) })
	data["Windows"] = open
	if u.o.Silences != nil {
		data["Silences"] = activeSilences(u.o.Silences.List(), maxWindowsShown)
	}
	data["Budgets"] = u.budgets(r, now)
	u.render(w, r, "overview", "Overview", data)
}

// budget is one receiver's page budget as the overview shows it.
type budget struct {
	Receiver   string
	Pages      int
	Per        string
	Open       bool // a period is open
	Ends       time.Time
	Sent, Held int
	Spent      bool // no page is left in the period
}

// budgets are the receivers' budgets with their open periods, by name.
func (u *UI) budgets(r *http.Request, now time.Time) []budget {
	out := make([]budget, 0, len(u.o.Budgets))
	for name, b := range u.o.Budgets {
		if b.Pages <= 0 {
			continue
		}
		v := budget{Receiver: name, Pages: b.Pages, Per: page.Duration(b.Per)}
		p, err := u.o.Store.OpenBudget(r.Context(), name)
		if err != nil {
			u.o.Logger.Error("reading a budget period failed", "receiver", name, "err", err)
		} else if !p.Start.IsZero() {
			v.Open, v.Ends, v.Sent, v.Held = true, p.Start.Add(b.Per), p.Sent, p.Held
			v.Spent = p.Sent >= b.Pages
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b budget) int { return strings.Compare(a.Receiver, b.Receiver) })
	return out
}

// health is the health of every configured receiver and of any other
// with attempts on record.
func (u *UI) health(r *http.Request) ([]store.ReceiverHealth, error) {
	hs, err := u.o.Store.ReceiversHealth(r.Context())
	seen := map[string]bool{}
	for _, h := range hs {
		seen[h.Receiver] = true
	}
	for name := range u.o.Receivers {
		if !seen[name] {
			hs = append(hs, store.ReceiverHealth{Receiver: name})
		}
	}
	slices.SortFunc(hs, func(a, b store.ReceiverHealth) int { return strings.Compare(a.Receiver, b.Receiver) })
	return hs, err
}

var filterKeys = []string{"group_id", "from_account", "error_code", "rule", "since"}

func (u *UI) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	data := map[string]any{}
	shown := map[string]string{}
	for _, k := range filterKeys {
		shown[k] = q.Get(k)
	}
	data["Q"] = shown
	f, err := trace.ParseFilter(q.Get, u.o.Now())
	if err != nil {
		data["Error"] = err.Error()
		u.renderStatus(w, r, http.StatusBadRequest, "events", "Events", data)
		return
	}
	p, err := u.o.Trace.List(r.Context(), f)
	if err != nil {
		u.o.Logger.Error("listing events failed", "err", err)
		u.fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	data["Events"] = p.Events
	if p.NextBefore > 0 {
		next := url.Values{}
		for k, v := range shown {
			if v != "" {
				next.Set(k, v)
			}
		}
		next.Set("before", strconv.FormatInt(p.NextBefore, 10))
		data["Next"] = "/ui/events?" + next.Encode()
	}
	u.render(w, r, "events", "Events", data)
}

func (u *UI) event(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		u.fail(w, http.StatusBadRequest, "not an event id")
		return
	}
	ev, err := u.o.Trace.Get(r.Context(), id)
	if errors.Is(err, trace.ErrNotFound) {
		u.fail(w, http.StatusNotFound, "no such event: it may have passed the journal's retention")
		return
	}
	if err != nil {
		u.o.Logger.Error("reading an event failed", "err", err)
		u.fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	u.render(w, r, "event", "Event #"+strconv.FormatInt(id, 10), map[string]any{"Event": ev})
}

const deliveriesShown = 200

func (u *UI) deliveries(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	data := map[string]any{}
	if id := r.URL.Query().Get("requeued"); id != "" && len(id) <= 64 {
		data["Requeued"] = id
	}
	for key, st := range map[string]store.State{"Dead": store.Dead, "Pending": store.Pending} {
		rows, err := u.o.Store.Deliveries(ctx, store.Filter{State: st, Limit: deliveriesShown})
		if err != nil {
			u.o.Logger.Error("listing deliveries failed", "err", err)
			u.fail(w, http.StatusInternalServerError, "internal error")
			return
		}
		data[key] = delivery.Deliveries(rows)
	}
	u.render(w, r, "deliveries", "Deliveries", data)
}

func (u *UI) requeue(w http.ResponseWriter, r *http.Request) {
	id := r.PostFormValue("id")
	if id == "" || len(id) > 64 {
		u.fail(w, http.StatusBadRequest, "no notification id")
		return
	}
	ok, err := u.o.Store.Requeue(r.Context(), id, u.o.Now())
	if err != nil {
		u.o.Logger.Error("requeue failed", "err", err)
		u.fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	if !ok {
		u.fail(w, http.StatusNotFound, "no such dead letter: it may have been requeued already")
		return
	}
	if recv := r.PostFormValue("receiver"); u.o.Waker != nil && u.o.Receivers[recv] {
		u.o.Waker.Wake(recv)
	}
	http.Redirect(w, r, "/ui/deliveries?requeued="+url.QueryEscape(id), http.StatusSeeOther)
}

type ruleRow struct {
	Name, File           string
	Line                 int
	Receivers, Decides   string
	Matched, Paged, Held int
}

func (u *UI) rules(w http.ResponseWriter, r *http.Request) {
	u.renderRules(w, r, map[string]any{"Command": callback.CommandSendMsgException, "AppID": "1400000000"})
}

func (u *UI) renderRules(w http.ResponseWriter, r *http.Request, data map[string]any) {
	counts, err := u.o.Store.DecisionCounts(r.Context(), u.o.Now().Add(-24*time.Hour))
	if err != nil {
		u.o.Logger.Error("counting decisions failed", "err", err)
	}
	var rows []ruleRow
	if e := u.o.Pipeline.Rules(); e != nil {
		for _, rl := range e.Rules() {
			row := ruleRow{Name: rl.Name, File: rl.File, Line: rl.Line, Receivers: strings.Join(rl.Receivers, ", "), Decides: decides(rl.Throttle, rl.Threshold.Count, rl.Threshold.Within, rl.Digest, rl.FirstSeen)}
			for reason, n := range counts[rl.Name] {
				row.Matched += n
				switch reason {
				case "first", "window_expired", "no_throttle", "first_seen":
					row.Paged += n
				default:
					row.Held += n
				}
			}
			rows = append(rows, row)
		}
	}
	data["Rules"] = rows
	u.render(w, r, "rules", "Rules", data)
}

func decides(throttle time.Duration, count int, within, digest time.Duration, firstSeen bool) string {
	var parts []string
	switch {
	case digest > 0:
		parts = append(parts, "digest every "+page.Duration(digest))
	case firstSeen:
		parts = append(parts, "first seen only")
	case throttle > 0:
		parts = append(parts, "throttle "+page.Duration(throttle))
	default:
		parts = append(parts, "every match")
	}
	if count > 0 {
		parts = append(parts, strconv.Itoa(count)+" within "+page.Duration(within))
	}
	return strings.Join(parts, ", ")
}

type dryOutcome struct {
	Rule, Source, Key, Decision, Detail string
	Pages                               []string
}

// maxDryRun bounds the pasted callback.
const maxDryRun = 64 << 10

func (u *UI) dryRun(w http.ResponseWriter, r *http.Request) {
	body := r.PostFormValue("callback")
	command := strings.TrimSpace(r.PostFormValue("command"))
	appID := strings.TrimSpace(r.PostFormValue("sdkappid"))
	data := map[string]any{"Command": command, "AppID": appID, "Callback": body}
	if len(body) > maxDryRun {
		data["DryError"] = "the callback is longer than 64 KiB"
		u.renderRules(w, r, data)
		return
	}
	vals := url.Values{"SdkAppid": {appID}, "CallbackCommand": {command}, "contenttype": {"json"}}
	q, err := callback.ParseQuery(vals)
	if err == nil {
		var items []callback.Item
		if items, err = callback.ParseEvents(q, []byte(body), u.o.Limits); err == nil {
			now := u.o.Now()
			var outs []dryOutcome
			for _, it := range items {
				it.Event.ReceivedAt = now
				for _, o := range u.o.Pipeline.DryRun(it.Event) {
					outs = append(outs, dryView(o, now))
				}
			}
			data["DryRan"], data["Outcomes"] = true, outs
		}
	}
	if err != nil {
		data["DryError"] = "not a callback imalert would take: " + page.Clean(err.Error(), page.MaxErrorInfo)
	}
	u.renderRules(w, r, data)
}

func dryView(o alert.Outcome, now time.Time) dryOutcome {
	d := o.Decision
	rec := trace.Record{GroupKey: o.Key, Notify: d.Notify, Reason: d.Reason, Until: d.Until, Window: d.Window,
		Suppressed: d.Suppressed, Count: d.Count, Threshold: o.Rule.Threshold.Count, Within: o.Rule.Threshold.Within}
	v := dryOutcome{Rule: o.Rule.Name, Source: o.Rule.File + ":" + strconv.Itoa(o.Rule.Line), Key: o.Key,
		Decision: "held", Detail: trace.Describe(rec, now)}
	if d.Notify {
		v.Decision = "paged"
	}
	for _, n := range o.Notifications {
		v.Pages = append(v.Pages, "→ "+n.Receiver+"\n"+page.Render(page.Build(n)))
	}
	return v
}
