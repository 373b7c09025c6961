package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// The usage text names every flag of every command: each command's flags
// are read from its own -h, so a flag added later must be documented.
func TestUsageListsEveryFlag(t *testing.T) {
	flagRE := regexp.MustCompile(`(?m)^  -(\S+)`)
	for _, cmd := range []string{"serve", "check", "test", "deliveries"} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{cmd, "-h"}, &stdout, &stderr); code != 2 {
			t.Errorf("%s -h: exit %d, want 2", cmd, code)
		}
		flags := flagRE.FindAllStringSubmatch(stderr.String(), -1)
		if len(flags) == 0 {
			t.Fatalf("%s -h lists no flag:\n%s", cmd, stderr.String())
		}
		var line string
		for _, l := range strings.Split(usage, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "imalert "+cmd) || (line != "" && strings.HasPrefix(l, "          ")) {
				line += l
			}
		}
		for _, f := range flags {
			if !strings.Contains(line, "--"+f[1]) {
				t.Errorf("usage of %s lacks --%s:\n%s", cmd, f[1], usage)
			}
		}
	}
}
