package main

import (
	"bytes"
	"strings"
	"testing"
)

// check renders every body_template and names the config line of each
// that fails or gives no JSON; header values stay secret.
func TestCheckTemplates(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"check", "--config", "testdata/template/imalert.yaml"}, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	for _, want := range []string{
		`testdata/template/imalert.yaml:18: receiver "teams": body_template: with a sample event: output is not JSON: invalid character 'p' after object key:value pair, at line 3 of the output`,
		`testdata/template/imalert.yaml:27: receiver "typo": body_template: with a sample event: executing "body_template" at <.Txt>: can't evaluate field Txt`,
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q; got:\n%s", want, stderr.String())
		}
	}
	if n := strings.Count(stderr.String(), "\n"); n != 2 {
		t.Errorf("%d lines, want 2:\n%s", n, stderr.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), "check-header-secret") {
		t.Error("a header value reached the output")
	}
}
