package ui

import (
	"bytes"
	"html/template"
	"net/http"
	"time"
)

// layoutData is what the layout sees.
type layoutData struct {
	Title    string
	Active   string
	Nav      bool
	Silences bool
	Cookie   bool // logged in with the form: offer to log out
	CSRF     string
	Data     any
}

var funcs = template.FuncMap{
	"utc": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	"deref": func(v any) any {
		switch p := v.(type) {
		case *int64:
			return *p
		case *time.Time:
			return *p
		}
		return v
	},
}

var pageNames = []string{"login", "overview", "events", "event", "deliveries", "rules", "silences", "mute"}

// parsePages parses each page with the layout. The templates are embedded:
// an error is a build defect, caught by every test.
func parsePages() map[string]*template.Template {
	out := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		out[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+name+".html"))
	}
	return out
}

// render writes page name with data, or a plain 500 if it fails.
func (u *UI) render(w http.ResponseWriter, r *http.Request, name, title string, data any) {
	u.renderStatus(w, r, http.StatusOK, name, title, data)
}

// renderStatus is render with another status than 200.
func (u *UI) renderStatus(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	p := layoutData{Title: title, Active: name, Nav: name != "login" && name != "mute", Silences: u.o.Silences != nil, Data: data,
		CSRF: u.csrfToken(w, r)}
	if u.o.Token != "" {
		if c, err := r.Cookie(sessionCookie); err == nil && u.sessionOK(c.Value) {
			p.Cookie = true
		}
	}
	if name == "event" {
		p.Active = "events"
	}
	var buf bytes.Buffer
	if err := u.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		u.o.Logger.Error("rendering a page failed", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail renders a short error page.
func (u *UI) fail(w http.ResponseWriter, status int, msg string) {
	http.Error(w, msg, status)
}
