package slack

import (
	"github.com/imalert/imalert/alert"
	"github.com/imalert/imalert/alert/page"
)

type pageT = page.Page

func buildPage(n *alert.Notification) *page.Page { return page.Build(n) }
