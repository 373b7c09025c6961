package rules

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/internal/escape"
	"github.com/imalert/imalert/internal/yamlfile"
)

// Mode is the medium a template renders for. Each mode escapes every
// value a template action prints, so that event data cannot produce markup:
// only text written in the template itself reaches the medium as is.
type Mode int

const (
	// ModeText cleans values to one line (control and bidi characters
	// removed): console, email subject and plain-text part.
	ModeText Mode = iota
	// ModeSlack also escapes &, < and >, so no value forms a mention or a
	// link. Mentions written in the template itself stay live.
	ModeSlack
	// ModeHTML HTML-escapes values and the template's own text, which is
	// shown preformatted.
	ModeHTML
	numModes
)

func (m Mode) String() string {
	switch m {
	case ModeText:
		return "text"
	case ModeSlack:
		return "slack"
	case ModeHTML:
		return "html"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// Size limits of templates and what they render, in runes.
const (
	MaxTemplateSource = 8 << 10
	MaxTitle          = 250
	MaxBody           = 3000
	// maxValue caps each value a template prints.
	maxValue = 1000
	// maxOutputBytes stops a runaway template (a large range) early.
	maxOutputBytes = 64 << 10
)

// Template is a rule's title or body template, parsed once per mode.
type Template struct {
	src   string
	title bool // titles render on one line
	modes [numModes]*template.Template
}

// Source returns the template text as written.
func (t *Template) Source() string { return t.src }

// escaper is the function appended to every printing action.
const escaper = "_escape"

var escapers = [numModes]func(any) string{
	ModeText:  func(v any) string { return escape.Clean(printable(v), maxValue) },
	ModeSlack: func(v any) string { return escape.Slack(escape.Clean(printable(v), maxValue)) },
	ModeHTML:  func(v any) string { return escape.HTML(escape.Clean(printable(v), maxValue)) },
}

func printable(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case time.Time:
		return formatTime(x)
	case time.Duration:
		return yamlfile.FormatDuration(x)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// Render executes the template for mode. Titles come out on one line and
// within MaxTitle runes, bodies within MaxBody runes.
func (t *Template) Render(mode Mode, d *TemplateData) (string, error) {
	if mode < 0 || mode >= numModes {
		return "", fmt.Errorf("rules: template: unknown mode %d", mode)
	}
	w := &limitedBuffer{max: maxOutputBytes}
	if err := t.modes[mode].Execute(w, d); err != nil {
		return "", fmt.Errorf("rules: template: %w", err)
	}
	out := w.String()
	if t.title {
		return escape.Clean(out, MaxTitle), nil
	}
	return escape.Truncate(strings.TrimSpace(out), MaxBody), nil
}

type limitedBuffer struct {
	bytes.Buffer
	max int
}

var errTooLong = errors.New("output longer than 64 KiB")

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, errTooLong
	}
	return b.Buffer.Write(p)
}

// funcs are the helpers templates may call. catalogue answers meaning and
// severity.
func funcs(cat *callback.Catalogue) template.FuncMap {
	return template.FuncMap{
		"meaning":  func(code int64) string { return cat.Meaning(code) },
		"severity": func(code int64) string { info, _ := cat.Lookup(code); return info.Severity },
		"truncate": func(n int, v any) string { return escape.Truncate(printable(v), n) },
		"duration": yamlfile.FormatDuration,
		"time":     formatTime,
		"clock":    formatClock,
		"upper":    func(v any) string { return strings.ToUpper(printable(v)) },
		"lower":    func(v any) string { return strings.ToLower(printable(v)) },
		"join":     func(sep string, xs []string) string { return strings.Join(xs, sep) },
		"default": func(def string, v any) string {
			if s := printable(v); s != "" && s != "0" {
				return s
			}
			return def
		},
	}
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 MST")
}

func formatClock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("15:04:05 MST")
}

// parseTemplate compiles src for every mode, checks the fields it names
// and runs it on sample data, so that a template that cannot render fails
// at load time rather than when it should page.
func parseTemplate(name, src string, title bool, cat *callback.Catalogue) (*Template, error) {
	if len(src) > MaxTemplateSource {
		return nil, fmt.Errorf("longer than %d bytes", MaxTemplateSource)
	}
	t := &Template{src: src, title: title}
	fm := funcs(cat)
	fm[rangeGuard] = guardRange
	for m := range numModes {
		fm[escaper] = escapers[m]
		tm, err := template.New(name).Option("missingkey=error").Funcs(fm).Parse(src)
		if err != nil {
			return nil, err
		}
		if len(tm.Templates()) > 1 {
			return nil, errors.New("template: {{define}} and {{block}} are not supported in rule templates")
		}
		if m == ModeText { // the trees are alike in every mode: check once
			if err := checkShape(tm.Tree, tm.Root, 0); err != nil {
				return nil, err
			}
			if err := checkFields(tm.Tree, tm.Root, true); err != nil {
				return nil, err
			}
		}
		addEscaper(tm.Root, m == ModeHTML)
		t.modes[m] = tm
	}
	for _, d := range []*TemplateData{sampleData(true), sampleData(false)} {
		for m := range numModes {
			if _, err := t.Render(m, d); err != nil {
				return nil, errors.Unwrap(err)
			}
		}
	}
	return t, nil
}

// addEscaper appends the mode's escaper to every action that prints, as
// html/template does; in HTML mode it also escapes the template's own text.
func addEscaper(n parse.Node, html bool) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			addEscaper(c, html)
		}
	case *parse.ActionNode:
		if len(n.Pipe.Decl) == 0 {
			n.Pipe.Cmds = append(n.Pipe.Cmds, &parse.CommandNode{
				NodeType: parse.NodeCommand,
				Pos:      n.Pos,
				Args:     []parse.Node{parse.NewIdentifier(escaper).SetPos(n.Pos)},
			})
		}
	case *parse.IfNode:
		addEscaper(n.List, html)
		addEscaper(n.ElseList, html)
	case *parse.RangeNode:
		n.Pipe.Cmds = append(n.Pipe.Cmds, &parse.CommandNode{
			NodeType: parse.NodeCommand,
			Pos:      n.Pos,
			Args:     []parse.Node{parse.NewIdentifier(rangeGuard).SetPos(n.Pos)},
		})
		addEscaper(n.List, html)
		addEscaper(n.ElseList, html)
	case *parse.WithNode:
		addEscaper(n.List, html)
		addEscaper(n.ElseList, html)
	case *parse.TextNode:
		if html {
			n.Text = []byte(escape.HTML(string(n.Text)))
		}
	}
}

// Loops are bounded so that no template, and no event value it ranges
// over (text/template ranges over integers), can keep the pipeline busy:
// a range runs at most maxRange times and ranges nest at most
// maxRangeDepth deep. {{template}} is refused, since recursion would undo
// both bounds.
const (
	rangeGuard    = "_range"
	maxRange      = 100
	maxRangeDepth = 2
)

// guardRange is appended to every range pipeline: it refuses to range over
// a number above maxRange.
func guardRange(v any) (any, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if rv.Int() > maxRange {
			return nil, fmt.Errorf("range over %d: at most %d", rv.Int(), maxRange)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if rv.Uint() > maxRange {
			return nil, fmt.Errorf("range over %d: at most %d", rv.Uint(), maxRange)
		}
	case reflect.Func:
		return nil, errors.New("range over a function is not supported")
	}
	return v, nil
}

// checkShape refuses {{template}} and ranges nested too deep.
func checkShape(tree *parse.Tree, n parse.Node, depth int) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkShape(tree, c, depth); err != nil {
				return err
			}
		}
	case *parse.TemplateNode:
		loc, _ := tree.ErrorContext(n)
		return fmt.Errorf("template: %s: {{template}} is not supported in rule templates", loc)
	case *parse.IfNode:
		return errors.Join(checkShape(tree, n.List, depth), checkShape(tree, n.ElseList, depth))
	case *parse.WithNode:
		return errors.Join(checkShape(tree, n.List, depth), checkShape(tree, n.ElseList, depth))
	case *parse.RangeNode:
		if depth+1 > maxRangeDepth {
			loc, _ := tree.ErrorContext(n)
			return fmt.Errorf("template: %s: range nested deeper than %d", loc, maxRangeDepth)
		}
		return errors.Join(checkShape(tree, n.List, depth+1), checkShape(tree, n.ElseList, depth))
	}
	return nil
}

var dataType = reflect.TypeFor[*TemplateData]()

// templateFields are the names a template may read from its data.
var templateFields = func() map[string]bool {
	m := map[string]bool{}
	t := dataType.Elem()
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() {
			m[f.Name] = true
		}
	}
	for i := range dataType.NumMethod() {
		m[dataType.Method(i).Name] = true
	}
	return m
}()

func fieldList() []string {
	out := make([]string, 0, len(templateFields))
	for k := range templateFields {
		out = append(out, k)
	}
	return out
}

// checkFields reports a field of the template data that does not exist,
// wherever it appears (text/template would only notice on the branch that
// runs). Inside range and with, dot is something else and is not checked;
// $.Name always is.
func checkFields(tree *parse.Tree, n parse.Node, dotIsRoot bool) error {
	var err error
	check := func(node parse.Node, name string) {
		if err == nil && !templateFields[name] {
			loc, _ := tree.ErrorContext(node)
			err = fmt.Errorf("template: %s: unknown field .%s%s", loc, name, yamlfile.Suggest(name, fieldList()))
		}
	}
	var pipe func(p *parse.PipeNode, root bool)
	var arg func(a parse.Node, root bool)
	arg = func(a parse.Node, root bool) {
		switch a := a.(type) {
		case *parse.FieldNode:
			if root {
				check(a, a.Ident[0])
			}
		case *parse.VariableNode:
			if a.Ident[0] == "$" && len(a.Ident) > 1 {
				check(a, a.Ident[1])
			}
		case *parse.PipeNode:
			pipe(a, root)
		case *parse.ChainNode:
			arg(a.Node, root)
		}
	}
	pipe = func(p *parse.PipeNode, root bool) {
		if p == nil {
			return
		}
		for _, c := range p.Cmds {
			for _, a := range c.Args {
				arg(a, root)
			}
		}
	}
	var walk func(n parse.Node, root bool)
	walk = func(n parse.Node, root bool) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c, root)
			}
		case *parse.ActionNode:
			pipe(n.Pipe, root)
		case *parse.TemplateNode:
			pipe(n.Pipe, root)
		case *parse.IfNode:
			pipe(n.Pipe, root)
			walk(n.List, root)
			walk(n.ElseList, root)
		case *parse.RangeNode:
			pipe(n.Pipe, root)
			walk(n.List, false)
			walk(n.ElseList, root)
		case *parse.WithNode:
			pipe(n.Pipe, root)
			walk(n.List, false)
			walk(n.ElseList, root)
		}
	}
	walk(n, dotIsRoot)
	return err
}

var templateErrRE = regexp.MustCompile(`^template: [^:]*:(\d+)(?::\d+)?: (.*)$`)

// templateError positions a template error in the rule file: the template
// starts at node line start (the line after "|" for a block scalar).
func templateError(err error, start int) (line int, msg string) {
	msg = err.Error()
	line = start
	if m := templateErrRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		line, msg = start+n-1, m[2]
	}
	msg = strings.ReplaceAll(msg, " in type *rules.TemplateData", "")
	return line, msg
}

// TemplateData is what title and body templates see. Event values are raw
// here; the mode escapes whatever a template prints.
type TemplateData struct {
	// The rule and the decision.
	Rule     string
	Severity string
	Receiver string
	GroupKey string // the group_by values, e.g. GroupId="@TGS#2J4SZEAEL"
	File     string // where the rule is defined
	Line     int
	Reason   string // why this page was sent: first, window_expired, no_throttle, first_seen

	// The event.
	Command         string
	AppID           uint64
	GroupID         string
	GroupType       string
	From            string // From_Account
	Operator        string // Operator_Account
	HasErrorCode    bool
	ErrorCode       int64
	ErrorInfo       string
	Meaning         string // the catalogue's meaning of ErrorCode
	Platform        string // OptPlatform
	ClientIP        string
	CloudCustomData string
	EventTime       time.Time // zero when absent
	ReceivedAt      time.Time
	Excerpt         string   // every message element, summarised
	Text            string   // the text of the text elements, joined by spaces
	MsgTypes        []string // MsgType of each element
	// LeftOut counts what callback.limits cut from the body before
	// matching: .LeftOut.Elements, .LeftOut.Fields, .LeftOut.Events.
	LeftOut callback.LeftOut

	// Throttle and threshold.
	Suppressed int           // events held back since the previous page
	Window     time.Duration // the throttle window that held them back
	NextWindow time.Duration // the window now open (longer under exponential backoff)
	Since      time.Time     // start of that window
	First      time.Time     // first held-back event
	Last       time.Time     // last held-back event
	Count      int           // with a threshold: events within Within
	Within     time.Duration

	ev *callback.Event
}

// NewTemplateData fills the event fields of the template data.
func NewTemplateData(ev *callback.Event) *TemplateData {
	d := &TemplateData{
		Command:         ev.Command,
		AppID:           ev.AppID,
		GroupID:         ev.GroupID,
		GroupType:       ev.GroupType,
		From:            ev.FromAccount,
		Operator:        ev.OperatorAccount,
		HasErrorCode:    ev.Present.Has(callback.FieldErrorCode),
		ErrorCode:       ev.ErrorCode,
		ErrorInfo:       ev.ErrorInfo,
		Platform:        ev.OptPlatform,
		ClientIP:        ev.ClientIP,
		CloudCustomData: ev.CloudCustomData,
		EventTime:       ev.Time(),
		ReceivedAt:      ev.ReceivedAt,
		Excerpt:         ev.Excerpt(),
		LeftOut:         ev.LeftOut,
		ev:              ev,
	}
	var texts []string
	for i := range ev.MsgBody {
		el := &ev.MsgBody[i]
		d.MsgTypes = append(d.MsgTypes, el.Type)
		if el.Type == callback.ElemText {
			texts = append(texts, el.Content.Text)
		}
	}
	d.Text = strings.Join(texts, " ")
	return d
}

// Field returns any field of the event by wire name or snake_case alias,
// unknown body fields included; "" when absent.
func (d *TemplateData) Field(name string) string {
	if d.ev == nil {
		return ""
	}
	if _, w, ok := fieldName(name); ok {
		name = w
	}
	if v, ok := d.ev.Field(name); ok {
		return v
	}
	return ""
}

// sampleData is data to trial-run templates with: every field set, or
// every field empty, so that both sides of most conditions run.
func sampleData(full bool) *TemplateData {
	if !full {
		return NewTemplateData(&callback.Event{})
	}
	t := time.Date(2026, 11, 25, 14, 3, 7, 0, time.UTC)
	ev := &callback.Event{
		AppID: 1400000000, Command: callback.CommandSendMsgException, ClientIP: "10.0.0.1", OptPlatform: "RESTAPI",
		ReceivedAt: t, GroupID: "@TGS#2J4SZEAEL", GroupType: "Public", FromAccount: "jared", OperatorAccount: "admin",
		MsgBody:   []callback.MsgElement{{Type: callback.ElemText, Content: callback.MsgContent{Text: "red packet"}}},
		ErrorCode: 10023, ErrorInfo: "msg count exceeds limit", EventTime: t.UnixMilli(),
		Present: callback.FieldGroupID | callback.FieldGroupType | callback.FieldFromAccount | callback.FieldOperatorAccount |
			callback.FieldMsgBody | callback.FieldErrorCode | callback.FieldErrorInfo | callback.FieldEventTime,
	}
	d := NewTemplateData(ev)
	d.Rule, d.Severity, d.Receiver, d.GroupKey = "sample", callback.SeverityWarning, "sample", `GroupId="@TGS#2J4SZEAEL"`
	d.File, d.Line, d.Reason, d.Meaning = "rules.yaml", 1, "window_expired", "message sending frequency over the limit"
	d.Suppressed, d.Window, d.NextWindow = 3, 10*time.Minute, 20*time.Minute
	d.Since, d.First, d.Last = t.Add(-10*time.Minute), t.Add(-9*time.Minute), t.Add(-time.Minute)
	d.Count, d.Within = 3, time.Minute
	return d
}
