package reload

import (
	"errors"
	"fmt"

	"github.com/imalert/imalert/alert/webhook"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/yamlfile"
)

// templateErrors renders every webhook receiver's body_template for a
// sample page and a sample digest, as serve would send them, and reports
// each that fails or gives no JSON at its line in the config file.
func templateErrors(file string, cfg *config.Config) yamlfile.Errors {
	var errs yamlfile.Errors
	for _, r := range cfg.Receivers {
		if r.Webhook == nil || r.Webhook.BodyTemplate == "" {
			continue
		}
		err := webhook.CheckTemplate(r.Webhook.BodyTemplate)
		var te *webhook.TemplateError
		if !errors.As(err, &te) {
			continue
		}
		line := r.Webhook.BodyTemplateLine
		if te.Line > 1 {
			line += te.Line - 1
		}
		errs = append(errs, &yamlfile.Error{File: file, Line: line, Msg: fmt.Sprintf("receiver %q: %v", r.Name, err)})
	}
	return errs
}
