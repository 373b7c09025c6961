package config

import (
	"regexp"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/imalert/imalert/internal/yamlfile"
)

// Default paces of the chat-bot receivers. Each platform allows a robot
// about 20 messages a minute (Feishu: 100 a minute, 5 a second), counted
// over every sender to the robot; DingTalk blocks a robot for 10 minutes
// past its limit, so it gets the widest margin.
const (
	DefaultWeComPace    = 3 * time.Second // 20 a minute
	DefaultDingTalkPace = 4 * time.Second // 15 a minute
	DefaultFeishuPace   = 3 * time.Second // 20 a minute
)

// BotFields are the keys every chat-bot receiver (wecom, dingtalk, feishu)
// takes.
type BotFields struct {
	// WebhookURL is the robot's webhook; for WeCom its key is the only
	// credential, so the whole URL is a secret.
	WebhookURL     Secret            `yaml:"webhook_url"`
	WebhookURLFile string            `yaml:"webhook_url_file"`
	Timeout        yamlfile.Duration `yaml:"timeout"`
	// MentionUsers are the platform's user ids to mention in every page;
	// MentionAll mentions everyone. Mentions come only from here: nothing
	// from a payload can mention anyone.
	MentionUsers []string `yaml:"mention_users"`
	MentionAll   bool     `yaml:"mention_all"`
}

// WeComReceiver posts pages to a WeCom (企业微信) group robot.
type WeComReceiver struct {
	BotFields `yaml:",inline"`
	// MentionMobiles are mobile numbers to mention; WeCom honours them
	// only in text messages, so setting any (or mention_all) sends text
	// instead of markdown.
	MentionMobiles []string `yaml:"mention_mobiles"`
}

// DingTalkReceiver posts pages to a DingTalk (钉钉) custom robot.
type DingTalkReceiver struct {
	BotFields `yaml:",inline"`
	// Secret is the robot's signing secret (SEC…), for robots whose
	// security setting is "signature"; unset for keyword or IP robots.
	Secret         Secret   `yaml:"secret"`
	SecretFile     string   `yaml:"secret_file"`
	MentionMobiles []string `yaml:"mention_mobiles"`
}

// FeishuReceiver posts pages to a Feishu or Lark (飞书) custom bot.
type FeishuReceiver struct {
	BotFields `yaml:",inline"`
	// Secret is the bot's signing secret, when signature verification is
	// on.
	Secret     Secret `yaml:"secret"`
	SecretFile string `yaml:"secret_file"`
}

var (
	// botUserID is what a mention may name: ids are written into markup
	// (<@id>, <at user_id="id">), so nothing but id characters.
	botUserID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$`)
	botMobile = regexp.MustCompile(`^\+?[0-9][0-9-]{4,19}$`)
)

func (b *BotFields) validate(doc *yamlfile.Doc, n *yaml.Node, name string) yamlfile.Errors {
	what := "receiver " + quote(name)
	errs := resolveSecret(doc, n, "webhook_url", &b.WebhookURL, b.WebhookURLFile, configDir(doc.File), what)
	if len(errs) == 0 {
		_, un := yamlfile.Lookup(n, "webhook_url")
		if un == nil {
			_, un = yamlfile.Lookup(n, "webhook_url_file")
		}
		switch {
		case un == nil:
			errs = append(errs, doc.Errorf(n, "receiver %q: webhook_url is required", name))
		case !b.WebhookURL.IsSet():
			errs = append(errs, doc.EmptyError(un, what+": webhook_url"))
		case !isHTTPURL(b.WebhookURL.Reveal()):
			errs = append(errs, doc.Errorf(un, "receiver %q: webhook_url must be an http:// or https:// URL", name))
		}
	}
	errs = append(errs, checkList(doc, n, name, "mention_users", b.MentionUsers, botUserID, "a user id (letters, digits, '_', '.', '@', '-')")...)
	if b.Timeout <= 0 {
		errs = append(errs, doc.Errorf(yamlfile.At(n, "timeout"), "receiver %q: timeout must be positive", name))
	}
	return errs
}

func (w *WeComReceiver) validate(doc *yamlfile.Doc, n *yaml.Node, name string) yamlfile.Errors {
	errs := w.BotFields.validate(doc, n, name)
	return append(errs, checkList(doc, n, name, "mention_mobiles", w.MentionMobiles, botMobile, "a mobile number")...)
}

func (d *DingTalkReceiver) validate(doc *yamlfile.Doc, n *yaml.Node, name string) yamlfile.Errors {
	errs := d.BotFields.validate(doc, n, name)
	errs = append(errs, checkSigningSecret(doc, n, name, &d.Secret, d.SecretFile)...)
	return append(errs, checkList(doc, n, name, "mention_mobiles", d.MentionMobiles, botMobile, "a mobile number")...)
}

func (f *FeishuReceiver) validate(doc *yamlfile.Doc, n *yaml.Node, name string) yamlfile.Errors {
	errs := f.BotFields.validate(doc, n, name)
	return append(errs, checkSigningSecret(doc, n, name, &f.Secret, f.SecretFile)...)
}

// checkSigningSecret resolves secret or secret_file; a secret key present
// but empty (an unset variable) is an error, not "no signing".
func checkSigningSecret(doc *yamlfile.Doc, n *yaml.Node, name string, s *Secret, file string) yamlfile.Errors {
	errs := resolveSecret(doc, n, "secret", s, file, configDir(doc.File), "receiver "+quote(name))
	if _, sn := yamlfile.Lookup(n, "secret"); sn != nil && !s.IsSet() && len(errs) == 0 {
		errs = append(errs, doc.EmptyError(sn, "receiver "+quote(name)+": secret"))
	}
	return errs
}

func checkList(doc *yamlfile.Doc, n *yaml.Node, name, key string, vs []string, re *regexp.Regexp, want string) yamlfile.Errors {
	var errs yamlfile.Errors
	_, ln := yamlfile.Lookup(n, key)
	for i, v := range vs {
		if !re.MatchString(v) {
			at := item(ln, i)
			errs = append(errs, doc.Errorf(at, "receiver %q: %s: %s is not %s", name, key, doc.Show(at, v), want))
		}
	}
	return errs
}

// decodeBot decodes a chat-bot receiver of type t into r.
func decodeBot(doc *yamlfile.Doc, n *yaml.Node, r *Receiver) yamlfile.Errors {
	bot := BotFields{Timeout: defaultReceiverTimeout}
	var errs yamlfile.Errors
	switch r.Type {
	case TypeWeCom:
		w := struct {
			receiverHeadFields `yaml:",inline"`
			WeComReceiver      `yaml:",inline"`
		}{WeComReceiver: WeComReceiver{BotFields: bot}}
		errs = append(errs, doc.Decode(n, &w)...)
		r.WeCom = &w.WeComReceiver
		errs = append(errs, r.WeCom.validate(doc, n, r.Name)...)
	case TypeDingTalk:
		w := struct {
			receiverHeadFields `yaml:",inline"`
			DingTalkReceiver   `yaml:",inline"`
		}{DingTalkReceiver: DingTalkReceiver{BotFields: bot}}
		errs = append(errs, doc.Decode(n, &w)...)
		r.DingTalk = &w.DingTalkReceiver
		errs = append(errs, r.DingTalk.validate(doc, n, r.Name)...)
	case TypeFeishu:
		w := struct {
			receiverHeadFields `yaml:",inline"`
			FeishuReceiver     `yaml:",inline"`
		}{FeishuReceiver: FeishuReceiver{BotFields: bot}}
		errs = append(errs, doc.Decode(n, &w)...)
		r.Feishu = &w.FeishuReceiver
		errs = append(errs, r.Feishu.validate(doc, n, r.Name)...)
	}
	return errs
}

// botPace is the default pace of a chat-bot receiver type, and whether t
// is one.
func botPace(t string) (time.Duration, bool) {
	switch t {
	case TypeWeCom:
		return DefaultWeComPace, true
	case TypeDingTalk:
		return DefaultDingTalkPace, true
	case TypeFeishu:
		return DefaultFeishuPace, true
	}
	return 0, false
}
