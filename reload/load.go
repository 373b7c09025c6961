package reload

import (
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/yamlfile"
	"github.com/imalert/imalert/rules"
)

// Set is everything the daemon runs from: the config file, the rule files
// it names, and the rules compiled from them. serve, check, test and every
// reload build it with Load, so check validates exactly what serve runs.
type Set struct {
	Config    *config.Config
	Files     []*rules.File
	Rules     *rules.Engine
	Catalogue *callback.Catalogue // built-in codes with the config's codes: on top
}

// Load reads the config at path (the built-in config and rules when path
// is empty), then the rule files it names, and compiles the rules. It
// returns every error it finds, as yamlfile.Errors when they have
// positions. A config that loads no rule is an error: every callback would
// be acknowledged and none would page. With errors, the Set holds what
// could be read (the config, for redacting secrets from the messages).
func Load(path string) (*Set, error) {
	s := &Set{}
	var errs yamlfile.Errors
	if path == "" {
		s.Config = config.Default()
		s.Files = rules.Default()
	} else {
		cfg, err := config.Load(path)
		if cfg == nil {
			return nil, err
		}
		s.Config = cfg
		errs = append(errs, yamlfile.AsErrors(path, err)...)
		errs = append(errs, templateErrors(path, cfg)...)
		files, err := rules.LoadFiles(cfg.RuleFiles)
		errs = append(errs, yamlfile.AsErrors(path, err)...)
		s.Files = files
	}
	s.Catalogue = catalogue(s.Config)
	engine, err := rules.Compile(s.Files, rules.Options{Receivers: s.Config.ReceiverNames(), Catalogue: s.Catalogue})
	errs = append(errs, yamlfile.AsErrors(path, err)...)
	if len(errs) == 0 && len(engine.Rules()) == 0 {
		errs = append(errs, &yamlfile.Error{File: path, Msg: noRules(s.Config)})
	}
	if len(errs) > 0 {
		errs.Sort()
		return s, errs
	}
	s.Rules = engine
	return s, nil
}

// noRules says why a config loads no rule.
func noRules(cfg *config.Config) string {
	if len(cfg.RuleFiles) == 0 {
		return "no rules: rule_files is empty, so nothing would page"
	}
	return "no rules: the files rule_files matches hold no rule, so nothing would page"
}

// catalogue is the built-in error-code catalogue with cfg's codes on top.
func catalogue(cfg *config.Config) *callback.Catalogue {
	overrides := make([]callback.CodeInfo, len(cfg.Codes))
	for i, c := range cfg.Codes {
		overrides[i] = callback.CodeInfo{Code: c.Code, Meaning: c.Meaning, Severity: c.Severity}
	}
	return callback.NewCatalogue(overrides...)
}
