package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
)

// maxBody bounds what a body template may produce.
const maxBody = 1 << 20

// TemplateError is a body_template that does not compile, fails on a
// sample page, or does not produce JSON. Line is the template's line, from
// 1, or 0 when unknown.
type TemplateError struct {
	Line int
	Err  error
}

func (e *TemplateError) Error() string { return "body_template: " + e.Err.Error() }

func (e *TemplateError) Unwrap() error { return e.Err }

// mdEscaper neutralises the markup of chat markdown dialects (Teams,
// Mattermost, Discord…): tags and mentions, links, emphasis, code,
// headings, entities and URL schemes; the replacements are full-width
// look-alikes.
var mdEscaper = strings.NewReplacer(
	"<", "＜", ">", "＞", "[", "［", "]", "］", "*", "＊", "_", "＿", "`", "｀",
	"~", "～", "#", "＃", "&", "＆", "@", "＠", "://", "：//",
)

// funcs are the functions a body template may call: json quotes any value
// as JSON (strings included, so payload text cannot break out of its
// string); md makes a string inert in chat markdown.
var funcs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"md": mdEscaper.Replace,
}

// parseTemplate compiles a body template.
func parseTemplate(src string) (*template.Template, error) {
	t, err := template.New("body_template").Option("missingkey=error").Funcs(funcs).Parse(src)
	if err != nil {
		return nil, templateError(err)
	}
	return t, nil
}

// templateLine reads the line out of text/template's errors:
// "template: body_template:3:12: …".
var templateLine = regexp.MustCompile(`^template: body_template:(\d+)(?::\d+)?: (.*)$`)

func templateError(err error) *TemplateError {
	if m := templateLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &TemplateError{Line: line, Err: errors.New(m[2])}
	}
	return &TemplateError{Err: err}
}

// templateData is what a body template sees: the payload, with Event never
// nil (empty for a digest, whose Digest is set instead), so one template
// serves both kinds.
func templateData(p *Payload) *Payload {
	if p.Event == nil {
		c := *p
		c.Event = &Event{}
		return &c
	}
	return p
}

// render runs t on p and checks that the result is JSON.
func render(t *template.Template, p *Payload) ([]byte, error) {
	var buf bytes.Buffer
	if err := t.Execute(&limitedBuffer{&buf}, templateData(p)); err != nil {
		return nil, templateError(err)
	}
	if !json.Valid(buf.Bytes()) {
		var v any
		err := json.Unmarshal(buf.Bytes(), &v)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := 1 + bytes.Count(buf.Bytes()[:se.Offset], []byte{'\n'})
			return nil, &TemplateError{Err: fmt.Errorf("output is not JSON: %v, at line %d of the output", se, line)}
		}
		return nil, &TemplateError{Err: errors.New("output is not JSON")}
	}
	return buf.Bytes(), nil
}

// limitedBuffer stops a template at maxBody bytes.
type limitedBuffer struct{ b *bytes.Buffer }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if l.b.Len()+len(p) > maxBody {
		return 0, fmt.Errorf("output over %d bytes", maxBody)
	}
	return l.b.Write(p)
}

// CheckTemplate compiles src and renders it for a sample event page and a
// sample digest, as serve would send them; either must give JSON.
func CheckTemplate(src string) error {
	t, err := parseTemplate(src)
	if err != nil {
		return err
	}
	for _, n := range samples() {
		if _, err := render(t, Build(n)); err != nil {
			var te *TemplateError
			if errors.As(err, &te) {
				te.Err = fmt.Errorf("with a sample %s: %w", Build(n).Kind, te.Err)
			}
			return err
		}
	}
	return nil
}

// samples are an event page and a digest with every field set.
func samples() []*notify.Notification {
	at := time.Date(2026, 11, 25, 14, 3, 7, 123e6, time.UTC)
	ev := &callback.Event{
		AppID: 1400000000, Command: callback.CommandSendMsgException, ClientIP: "10.0.0.1", OptPlatform: "RESTAPI",
		ReceivedAt: at, GroupID: "@TGS#2J4SZEAEL", GroupType: "Public", FromAccount: "jared", OperatorAccount: "admin",
		MsgBody:   []callback.MsgElement{{Type: "TIMTextElem", Content: callback.MsgContent{Text: `red "packet" <b>&</b>`}}},
		ErrorCode: 10023, ErrorInfo: "send msg freq limit", EventTime: at.UnixMilli(),
		Present: callback.FieldErrorCode | callback.FieldEventTime,
	}
	page := &notify.Notification{
		ID: "5f0c2a9e1b7d4c33", Receiver: "sample", Rule: "group-rate-limit", RuleFile: "rules/im.yaml", RuleLine: 2,
		Severity: callback.SeverityWarning, GroupKey: `GroupId="@TGS#2J4SZEAEL"`, Event: ev,
		CodeMeaning: "message sending frequency over the limit", CreatedAt: at,
		Throttle: notify.Throttled{Window: 10 * time.Minute, Suppressed: 143, Since: at.Add(-10 * time.Minute), First: at.Add(-9 * time.Minute), Last: at.Add(-time.Second)},
	}
	d := notify.NewDigest(at.Add(-10*time.Minute), 10*time.Minute)
	d.Add(ev)
	digest := &notify.Notification{ID: "5f0c2a9e1b7d4c34", Receiver: "sample", Rule: "rate-limit-storm", Severity: callback.SeverityInfo, Digest: d, CreatedAt: at}
	return []*notify.Notification{page, digest}
}
