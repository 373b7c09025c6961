package config

import (
	"fmt"
	"slices"
)

// MinAdminToken is the shortest admin.token check accepts without a
// warning, in bytes: a short token can be guessed.
const MinAdminToken = 16

// AdminWarning is the warning for an admin surface that listens beyond
// loopback without admin.token, or "". Such a surface answers only
// loopback clients, so /metrics and reload are out of reach from
// elsewhere; the warning says so and how to open them. It reads the
// effective listen addresses: call it (or SetListen) after any override.
func (c *Config) AdminWarning() string {
	if c.Admin.Token.IsSet() {
		return ""
	}
	exposed := c.Listen
	if c.Admin.Listen != "" {
		exposed = c.Admin.Listen
	}
	if exposed == "" || loopback(exposed) {
		return ""
	}
	return fmt.Sprintf("%s: listening on %s without admin.token: the admin endpoints (/metrics, /-/reload, /api/...) answer only loopback clients; set admin.token to reach them from elsewhere", c.name(), exposed)
}

// SetListen sets the callback listen address (serve --listen) and brings
// AdminWarning's entry in Warnings up to date with it.
func (c *Config) SetListen(addr string) {
	if w := c.AdminWarning(); w != "" {
		c.Warnings = slices.DeleteFunc(c.Warnings, func(s string) bool { return s == w })
	}
	c.Listen = addr
	if w := c.AdminWarning(); w != "" {
		c.Warnings = append(c.Warnings, w)
	}
}

// name is how warnings name the config file.
func (c *Config) name() string {
	if c.File == "" {
		return BuiltinName
	}
	return c.File
}
