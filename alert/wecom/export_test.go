package wecom

import (
	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/page"
)

func pageOf(n *notify.Notification) *page.Page { return page.Build(n) }
