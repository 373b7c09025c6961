package config

import (
	"time"

	"gopkg.in/yaml.v3"

	"github.com/imalert/imalert/internal/yamlfile"
)

// Budget bounds the pages a receiver sends: beyond Pages in a period of
// Per, pages are held, and one storm page at the period's end accounts for
// them. Pages 0: no budget.
type Budget struct {
	Pages int
	Per   time.Duration
}

// BudgetSpec is `budget: {pages: N, per: DURATION}` as written.
type BudgetSpec struct {
	Pages *int               `yaml:"pages"`
	Per   *yamlfile.Duration `yaml:"per"`
}

// DefaultChatBudget applies to chat receivers (slack, wecom, dingtalk,
// feishu) that set no budget: the chat-bot platforms take about 20
// messages a minute per robot.
var DefaultChatBudget = Budget{Pages: 20, Per: time.Minute}

// MaxBudgetPer bounds budget.per.
const MaxBudgetPer = 24 * time.Hour

// resolveBudget validates the receiver's budget and returns it with the
// default of its type applied.
func (f deliveryFields) resolveBudget(doc *yamlfile.Doc, n *yaml.Node, name, typ string) (Budget, yamlfile.Errors) {
	var b Budget
	switch typ {
	case TypeSlack, TypeWeCom, TypeDingTalk, TypeFeishu:
		b = DefaultChatBudget
	}
	s := f.Budget
	if s == nil {
		return b, nil
	}
	_, bn := yamlfile.Lookup(n, "budget")
	var errs yamlfile.Errors
	if s.Pages == nil {
		errs = append(errs, doc.Errorf(bn, "receiver %q: budget: pages is required (0: no budget)", name))
	} else if b.Pages = *s.Pages; b.Pages < 0 {
		errs = append(errs, doc.Errorf(yamlfile.At(bn, "pages"), "receiver %q: budget.pages must not be negative", name))
	}
	if s.Per != nil {
		b.Per = s.Per.D()
	}
	switch {
	case b.Pages == 0:
		b = Budget{}
	case s.Per == nil && b.Per == 0:
		errs = append(errs, doc.Errorf(bn, "receiver %q: budget: per is required, e.g. {pages: 20, per: 1m}", name))
	case b.Per < time.Second || b.Per > MaxBudgetPer:
		errs = append(errs, doc.Errorf(yamlfile.At(bn, "per"), "receiver %q: budget.per must be between 1s and 24h", name))
	}
	return b, errs
}
