package rules

import (
	"strings"
	"testing"

	"github.com/imalert/imalert/callback"
)

func mustTemplate(t *testing.T, src string, title bool) *Template {
	t.Helper()
	tm, err := parseTemplate("body", src, title, callback.NewCatalogue(callback.CodeInfo{Code: 10023, Meaning: "slow down", Severity: "critical"}))
	if err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	return tm
}

func hostileData(t *testing.T) *TemplateData {
	t.Helper()
	ev := body(t, `{"From_Account": "<!channel> & <@U0123>", "ErrorInfo": "line1\r\nSubject: forged\u202e", "GroupId": "<http://evil.example|click>", "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "<b>hi</b>"}}]}`)
	d := NewTemplateData(ev)
	d.Rule, d.Severity = "r", "warning"
	return d
}

func TestTemplateEscaping(t *testing.T) {
	const src = "<!here> {{.From}} in {{.GroupID}}: {{.ErrorInfo}} {{.Text}} {{.Field \"From_Account\"}} {{printf \"%s\" .From}}"
	tm := mustTemplate(t, src, false)
	d := hostileData(t)
	tests := []struct {
		mode    Mode
		want    string
		mustNot []string
	}{
		{ModeSlack,
			"<!here> &lt;!channel&gt; &amp; &lt;@U0123&gt; in &lt;http://evil.example|click&gt;: line1 Subject: forged &lt;b&gt;hi&lt;/b&gt; &lt;!channel&gt; &amp; &lt;@U0123&gt; &lt;!channel&gt; &amp; &lt;@U0123&gt;",
			[]string{"<!channel>", "<@U0123>", "<http://evil", "\n", "\u202e"}},
		{ModeHTML,
			"&lt;!here&gt; &lt;!channel&gt; &amp; &lt;@U0123&gt; in &lt;http://evil.example|click&gt;: line1 Subject: forged &lt;b&gt;hi&lt;/b&gt; &lt;!channel&gt; &amp; &lt;@U0123&gt; &lt;!channel&gt; &amp; &lt;@U0123&gt;",
			[]string{"<b>", "<!"}},
		{ModeText,
			"<!here> <!channel> & <@U0123> in <http://evil.example|click>: line1 Subject: forged <b>hi</b> <!channel> & <@U0123> <!channel> & <@U0123>",
			[]string{"\r", "\nSubject", "\u202e"}},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			got, err := tm.Render(tt.mode, d)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
			for _, bad := range tt.mustNot {
				if strings.Contains(got, bad) {
					t.Errorf("output contains %q: %q", bad, got)
				}
			}
		})
	}
}

func TestTemplateHelpers(t *testing.T) {
	d := sampleData(true)
	d.ErrorInfo = "abcdefghijklmnopqrstuvwxyz"
	tests := []struct {
		name, src, want string
	}{
		{"meaning from the catalogue override", "{{meaning .ErrorCode}}", "slow down"},
		{"meaning of a literal code", "{{meaning 80001}}", "text contains sensitive content; not delivered"},
		{"severity", "{{severity .ErrorCode}}", "critical"},
		{"truncate in a pipeline", "{{.ErrorInfo | truncate 5}}", "abcd…"},
		{"duration", "{{duration .Window}} {{duration .NextWindow}} {{duration 90000000000}}", "10m 20m 1m30s"},
		{"time and clock", "{{time .ReceivedAt}} / {{clock .First}}", "2026-11-25 14:03:07 UTC / 13:54:07 UTC"},
		{"times print readably", "{{.ReceivedAt}} {{.Window}}", "2026-11-25 14:03:07 UTC 10m"},
		{"upper lower", "{{upper .From}} {{lower .GroupType}}", "JARED public"},
		{"default", `{{default "none" .CloudCustomData}} {{default "n/a" .From}}`, "none jared"},
		{"join", `{{join "," .MsgTypes}}`, "TIMTextElem"},
		{"field by alias and wire name", `{{.Field "group_id"}} [{{.Field "Random"}}] [{{.Field "Nope"}}] {{.Field "error_code"}}`, "@TGS#2J4SZEAEL [] [] 10023"},
		{"conditionals and range", `{{if gt .Suppressed 0}}+{{.Suppressed}}{{end}}{{range .MsgTypes}} {{.}}{{end}}`, "+3 TIMTextElem"},
		{"variables", `{{$g := .GroupID}}{{with .From}}{{.}}@{{$g}}{{end}}`, "jared@@TGS#2J4SZEAEL"},
		{"threshold", "{{.Count}} within {{duration .Within}}", "3 within 1m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mustTemplate(t, tt.src, false).Render(ModeText, d)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTemplateTitleIsOneLine(t *testing.T) {
	tm := mustTemplate(t, "first\nsecond {{.From}}\r\n", true)
	got, err := tm.Render(ModeSlack, sampleData(true))
	if err != nil || got != "first second jared" {
		t.Errorf("title = %q, %v", got, err)
	}
	long := mustTemplate(t, strings.Repeat("x", 400), true)
	if got, _ := long.Render(ModeText, sampleData(true)); len([]rune(got)) != MaxTitle {
		t.Errorf("long title has %d runes, want %d", len([]rune(got)), MaxTitle)
	}
}

func TestTemplateLimits(t *testing.T) {
	// A template that prints without end stops at the output limit.
	tm := mustTemplate(t, "{{range .MsgTypes}}x{{end}}", false)
	d := sampleData(true)
	d.MsgTypes = make([]string, 100_000)
	if _, err := tm.Render(ModeText, d); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("runaway template: err = %v", err)
	}
	// Each printed value is capped.
	d = sampleData(true)
	d.ErrorInfo = strings.Repeat("y", 5000)
	got, _ := mustTemplate(t, "{{.ErrorInfo}}", false).Render(ModeText, d)
	if n := len([]rune(got)); n != maxValue {
		t.Errorf("value of 5000 runes printed as %d, want %d", n, maxValue)
	}
}

func TestTemplateErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"syntax", "{{.From", "unclosed action"},
		{"unknown function", "{{nope .From}}", `function "nope" not defined`},
		{"unknown field", "{{.Frm}}", `unknown field .Frm (did you mean "From"?)`},
		{"unknown field in an untaken branch", "{{if false}}{{.Nope}}{{end}}", "unknown field .Nope"},
		{"unknown field through $", "{{range .MsgTypes}}{{$.Nope}}{{end}}", "unknown field .Nope"},
		{"wrong argument type", "{{truncate .From 3}}", "wrong type for value"},
		{"too long", strings.Repeat("x", MaxTemplateSource+1), "longer than"},
		{"range over a large number", "{{range 1000000000}}{{end}}", "range over 1000000000: at most 100"},
		{"range over an event number", "{{range .ErrorCode}}{{end}}", "range over 10023: at most 100"},
		{"ranges nested too deep", "{{range .MsgTypes}}{{range .}}{{range 2}}x{{end}}{{end}}{{end}}", "range nested deeper than 2"},
		{"define", `{{define "x"}}a{{end}}{{template "x"}}`, "{{define}} and {{block}} are not supported"},
		{"template", `{{template "x"}}`, "{{template}} is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseTemplate("body", tt.src, false, callback.NewCatalogue())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// A template that ranges over an event value cannot be made to loop by a
// payload: a large number fails the render (and the page falls back to the
// standard layout).
func TestTemplateRangeOverPayload(t *testing.T) {
	tm := mustTemplate(t, "{{if gt .ErrorCode 100000}}{{range .ErrorCode}}.{{end}}{{end}}ok", false)
	d := sampleData(true)
	d.ErrorCode = 1 << 62
	if _, err := tm.Render(ModeText, d); err == nil || !strings.Contains(err.Error(), "at most 100") {
		t.Errorf("err = %v", err)
	}
	d.ErrorCode = 5
	if got, err := tm.Render(ModeText, d); err != nil || got != "ok" {
		t.Errorf("small code: %q, %v", got, err)
	}
	small := mustTemplate(t, "{{range 3}}{{.}}{{end}}", false)
	if got, _ := small.Render(ModeText, d); got != "012" {
		t.Errorf("range 3 = %q", got)
	}
}

func TestTemplateErrorPositions(t *testing.T) {
	_, err := compileYAML(t, `rules:
  - name: r
    receivers: [console]
    title: "{{.From}} {{.Nope}}"
    body: |
      line one
      line two {{nope}}
`)
	for _, want := range []string{`test.yaml:4: rule "r": title: unknown field .Nope`, `test.yaml:7: rule "r": body: function "nope" not defined`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v\nwant %q", err, want)
		}
	}
}

// A template can say what the limits left out of the body.
func TestTemplateLeftOut(t *testing.T) {
	tmpl, err := parseTemplate("body", `{{if .LeftOut.Elements}}{{.LeftOut.Elements}} elements left out{{end}}`, false, callback.NewCatalogue())
	if err != nil {
		t.Fatal(err)
	}
	ev := &callback.Event{LeftOut: callback.LeftOut{Elements: 7}}
	if got, err := tmpl.Render(ModeText, NewTemplateData(ev)); err != nil || got != "7 elements left out" {
		t.Errorf("Render = %q, %v", got, err)
	}
}
