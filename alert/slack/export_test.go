package slack

import (
	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/page"
)

type pageT = page.Page

func buildPage(n *notify.Notification) *page.Page { return page.Build(n) }
