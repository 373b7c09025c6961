package ui

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/imalert/imalert/alert/mute"
	"github.com/imalert/imalert/alert/silence"
)

// Silencer keeps the silences: the UI lists, adds and expires them.
type Silencer interface {
	Add(ctx context.Context, r silence.Request) (silence.Silence, error)
	List() []silence.Silence
	Expire(ctx context.Context, id string) (silence.Silence, error)
	// ByCapability returns the silence a mute link made, if any.
	ByCapability(capability string) (silence.Silence, bool)
}

// silenceForm is the new-silence form, as shown and as submitted.
type silenceForm struct {
	Matchers, Duration, Author, Comment string
	Errors                              []string
}

// maxMatchersText bounds the form's matchers.
const maxMatchersText = 16 << 10

func (u *UI) silences(w http.ResponseWriter, r *http.Request) {
	notice := ""
	q := r.URL.Query()
	if id := q.Get("added"); id != "" && len(id) <= 64 {
		notice = "Silence " + id + " added."
	} else if id := q.Get("expired"); id != "" && len(id) <= 64 {
		notice = "Silence " + id + " expired."
	}
	u.renderSilences(w, r, http.StatusOK, u.prefill(r), notice)
}

func (u *UI) renderSilences(w http.ResponseWriter, r *http.Request, status int, f silenceForm, notice string) {
	list := u.o.Silences.List()
	slices.Reverse(list) // newest first
	u.renderStatus(w, r, status, "silences", "Silences", map[string]any{"Silences": list, "Form": f, "Notice": notice})
}

// activeSilences returns up to limit of the active silences in list,
// those ending first first.
func activeSilences(list []silence.Silence, limit int) []silence.Silence {
	var out []silence.Silence
	for _, s := range list {
		if s.State == silence.Active {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b silence.Silence) int { return a.EndsAt.Compare(b.EndsAt) })
	return out[:min(len(out), limit)]
}

// prefill fills the form from the query: ?event=ID&rule=NAME takes the
// rule's group key for that event (within the rule's match block when
// simple), ?group_id=G the group alone.
func (u *UI) prefill(r *http.Request) silenceForm {
	q := r.URL.Query()
	f := silenceForm{Duration: "1h"}
	m := map[string]any{}
	var why []string
	if id, err := strconv.ParseInt(q.Get("event"), 10, 64); err == nil && id > 0 {
		why = append(why, "event #"+strconv.FormatInt(id, 10))
		if name := q.Get("rule"); name != "" {
			if scoped, ok := u.ruleScope(r.Context(), id, name); ok {
				m = scoped
				why = append(why, "rule "+name)
			}
		}
	}
	if g := q.Get("group_id"); g != "" && len(g) <= 256 {
		m["GroupId"] = g
	}
	if len(m) > 0 {
		f.Matchers = toYAML(m)
	}
	if len(why) > 0 {
		f.Comment = "muted from " + strings.Join(why, ", ")
	}
	return f
}

// ruleScope is the silence of rule name's group key for event id.
func (u *UI) ruleScope(ctx context.Context, id int64, name string) (map[string]any, bool) {
	ev, err := u.o.Trace.Get(ctx, id)
	if err != nil {
		return nil, false
	}
	e := u.o.Pipeline.Rules()
	if e == nil {
		return nil, false
	}
	for _, m := range ev.Matches {
		if m.Rule != name {
			continue
		}
		for _, rl := range e.Rules() {
			if rl.Name == name {
				return mute.Scope(rl, m.GroupKey)
			}
		}
	}
	return nil, false
}

func (u *UI) addSilence(w http.ResponseWriter, r *http.Request) {
	f := silenceForm{Matchers: r.PostFormValue("matchers"), Duration: strings.TrimSpace(r.PostFormValue("duration")),
		Author: r.PostFormValue("author"), Comment: r.PostFormValue("comment")}
	matchers, err := matchersJSON(f.Matchers)
	if err != nil {
		f.Errors = []string{err.Error()}
		u.renderSilences(w, r, http.StatusBadRequest, f, "")
		return
	}
	si, err := u.o.Silences.Add(r.Context(), silence.Request{Matchers: matchers, Duration: f.Duration,
		Author: f.Author, Comment: f.Comment, Via: silence.ViaUI})
	var ie *silence.InvalidError
	switch {
	case errors.As(err, &ie):
		f.Errors = ie.Msgs
		u.renderSilences(w, r, http.StatusBadRequest, f, "")
	case errors.Is(err, silence.ErrUnshared):
		u.unshared(w, "made", err)
	case err != nil:
		u.o.Logger.Error("adding a silence failed", "err", err)
		u.fail(w, http.StatusInternalServerError, "internal error")
	default:
		http.Redirect(w, r, "/ui/silences?added="+url.QueryEscape(si.ID), http.StatusSeeOther)
	}
}

// toYAML writes matchers as the form shows them: one field per line.
func toYAML(v any) string {
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	_ = enc.Encode(v) // strings and decoded YAML or JSON: cannot fail
	_ = enc.Close()
	return b.String()
}

// matchersJSON turns the form's matchers (YAML, or JSON) into the JSON the
// silence keeps; the rule language's own errors come from the silence.
func matchersJSON(text string) (json.RawMessage, error) {
	if len(text) > maxMatchersText {
		return nil, errors.New("matchers: longer than 16 KiB")
	}
	var v any
	if err := yaml.Unmarshal([]byte(text), &v); err != nil {
		return nil, errors.New("matchers: not YAML: write one field: value per line")
	}
	if v == nil {
		return nil, errors.New("matchers: at least one condition is required")
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, errors.New("matchers: want a mapping of field names to values")
	}
	return out, nil
}

func (u *UI) expireSilence(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	_, err := u.o.Silences.Expire(r.Context(), id)
	switch {
	case errors.Is(err, silence.ErrNotFound):
		u.fail(w, http.StatusNotFound, "no such silence")
	case errors.Is(err, silence.ErrUnshared):
		u.unshared(w, "expired", err)
	case err != nil:
		u.o.Logger.Error("expiring a silence failed", "err", err)
		u.fail(w, http.StatusInternalServerError, "internal error")
	default:
		http.Redirect(w, r, "/ui/silences?expired="+url.QueryEscape(id), http.StatusSeeOther)
	}
}

// muteView is what the mute page shows.
type muteView struct {
	Cap      mute.Capability
	Matchers string
	Author   string
	Comment  string
	Errors   []string
	Error    string           // the link does not work
	Done     *silence.Silence // the silence made
	Used     bool             // made earlier, by this link
}

// muteCapability verifies the link's token, rendering why not.
func (u *UI) muteCapability(w http.ResponseWriter, r *http.Request) (mute.Capability, bool) {
	c, err := u.o.Mute.Verify(r.PathValue("token"), u.o.Now())
	switch {
	case errors.Is(err, mute.ErrExpired):
		u.renderStatus(w, r, http.StatusGone, "mute", "Mute", muteView{Error: "This mute link has expired: links work for 24 hours after their page. Log in to create a silence."})
		return c, false
	case err != nil:
		u.renderStatus(w, r, http.StatusForbidden, "mute", "Mute", muteView{Error: "This is not a valid mute link: it may have been cut short, or signed by another imalert."})
		return c, false
	}
	return c, true
}

func (c muteView) withCap(capa mute.Capability) muteView {
	c.Cap = capa
	var v any
	if json.Unmarshal(capa.Matchers, &v) == nil {
		c.Matchers = toYAML(v)
	}
	return c
}

// muteForm serves GET /ui/mute/{token}: what the link would silence, and a
// form to confirm. The signed link is the authority: no login.
func (u *UI) muteForm(w http.ResponseWriter, r *http.Request) {
	c, ok := u.muteCapability(w, r)
	if !ok {
		return
	}
	v := muteView{Comment: "muted from the page of event #" + strconv.FormatInt(c.Event, 10)}.withCap(c)
	if si, ok := u.o.Silences.ByCapability(c.ID); ok {
		v.Done, v.Used = &si, true
		u.render(w, r, "mute", "Already muted", v)
		return
	}
	u.render(w, r, "mute", "Mute for 1 h", v)
}

// mute serves POST /ui/mute/{token}: the link's one silence.
func (u *UI) mute(w http.ResponseWriter, r *http.Request) {
	if !u.csrfOK(w, r) {
		http.Error(w, "invalid or missing CSRF token: reload the page and try again", http.StatusForbidden)
		return
	}
	c, ok := u.muteCapability(w, r)
	if !ok {
		return
	}
	v := muteView{Author: r.PostFormValue("author"), Comment: r.PostFormValue("comment")}.withCap(c)
	si, err := u.o.Silences.Add(r.Context(), silence.Request{Matchers: c.Matchers, Duration: mute.For.String(),
		Author: v.Author, Comment: v.Comment, Via: silence.ViaLink, Capability: c.ID})
	var ie *silence.InvalidError
	var used *silence.UsedError
	switch {
	case errors.As(err, &used):
		v.Done, v.Used = &used.Silence, true
		u.renderStatus(w, r, http.StatusConflict, "mute", "Already muted", v)
	case errors.As(err, &ie):
		v.Errors = ie.Msgs
		u.renderStatus(w, r, http.StatusBadRequest, "mute", "Mute for 1 h", v)
	case errors.Is(err, silence.ErrUnshared):
		u.unshared(w, "made", err)
	case err != nil:
		u.o.Logger.Error("adding a silence from a mute link failed", "err", err)
		u.fail(w, http.StatusInternalServerError, "internal error")
	default:
		u.o.Logger.Info("silence added from a mute link", "silence", si.ID, "rule", c.Rule, "event", c.Event)
		v.Done = &si
		u.render(w, r, "mute", "Muted", v)
	}
}

// unshared answers 503: the silence change could not reach the other
// replicas (Redis does not answer), so it was not made.
func (u *UI) unshared(w http.ResponseWriter, done string, err error) {
	u.o.Logger.Warn("silence not "+done+": redis does not answer", "err", err)
	w.Header().Set("Retry-After", "5")
	u.fail(w, http.StatusServiceUnavailable, "The silence was not "+done+": the replicas share silences through Redis, which does not answer. Try again shortly.")
}
