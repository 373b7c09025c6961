// Package rulestest compiles rule sources for the tests of the packages
// that use rules.
package rulestest

import (
	"testing"

	"github.com/imalert/imalert/rules"
)

// Compile compiles one rule file's source, whose rules may name the given
// receivers, or fails the test.
func Compile(t testing.TB, src string, receivers ...string) *rules.Engine {
	t.Helper()
	f, err := rules.ParseFile("rules.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	known := make(map[string]bool, len(receivers))
	for _, r := range receivers {
		known[r] = true
	}
	e, err := rules.Compile([]*rules.File{f}, rules.Options{Receivers: known})
	if err != nil {
		t.Fatal(err)
	}
	return e
}
