package config

import "slices"

// LoadOptions change how a config is read.
type LoadOptions struct {
	// AllowMissingSecrets lets a secret written as ${VAR} (a token, a
	// password, a webhook URL, a signing secret) load with
	// VAR unset: a placeholder stands in for it, and a warning says so.
	// check and the dry run use it, since they send nothing; serve does
	// not, and refuses to start.
	AllowMissingSecrets bool
}

// secretKeys are the keys whose values are secrets (Secret fields).
var secretKeys = []string{"token", "tokens", "password", "secret", "webhook_url", "url"}

// urlKeys are the secret keys that must hold an http(s) URL.
var urlKeys = []string{"webhook_url", "url"}

// placeholder returns the value that stands in for an unset variable in a
// secret, or nil when o allows none.
func (o LoadOptions) placeholder() func(path []string, name string) (string, bool) {
	if !o.AllowMissingSecrets {
		return nil
	}
	return func(path []string, name string) (string, bool) {
		if len(path) == 0 {
			return "", false
		}
		key := path[len(path)-1]
		switch {
		case slices.Contains(urlKeys, key):
			return "https://placeholder.invalid/unset-" + name, true
		case slices.Contains(secretKeys, key):
			return "placeholder-for-unset-" + name, true
		}
		return "", false
	}
}
