package wecom

import (
	"github.com/imalert/imalert/alert"
	"github.com/imalert/imalert/alert/page"
)

func pageOf(n *alert.Notification) *page.Page { return page.Build(n) }
