package config

import (
	"time"

	"gopkg.in/yaml.v3"

	"github.com/imalert/imalert/internal/yamlfile"
)

// Silences configures silences made through the API and `imalert silence`.
type Silences struct {
	// MaxDuration bounds how long one silence may last: a forgotten
	// silence must not mute a problem for months.
	MaxDuration yamlfile.Duration `yaml:"max_duration"`
}

var defaultSilences = Silences{MaxDuration: yamlfile.Duration(7 * 24 * time.Hour)}

func (s Silences) validate(doc *yamlfile.Doc, n *yaml.Node) yamlfile.Errors {
	if s.MaxDuration < yamlfile.Duration(time.Minute) {
		return yamlfile.Errors{doc.Errorf(yamlfile.At(n, "max_duration"), "silences.max_duration must be at least 1m")}
	}
	return nil
}
