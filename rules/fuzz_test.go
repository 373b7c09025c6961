package rules

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/internal/yamlfile"
)

// FuzzLoad feeds arbitrary rule files through parsing, validation and
// compilation: whatever the input, loading must not panic, every error must
// be positioned in the file, and a rule set that compiles must match
// events without panicking. The seed corpus is testdata/fuzz/FuzzLoad plus
// every rule file in testdata; go test replays it.
func FuzzLoad(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.yaml")
	bad, _ := filepath.Glob("testdata/bad/*.yaml")
	for _, p := range append(paths, bad...) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(builtin)
	events := []*callback.Event{benchEvent(), {Command: "Group.CallbackAfterNewMemberJoin"}, {}}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseFile("fuzz.yaml", data)
		checkPositioned(t, err)
		if file == nil {
			return
		}
		e, err := Compile([]*File{file}, Options{Receivers: map[string]bool{"console": true, "ops-slack": true}})
		checkPositioned(t, err)
		if e == nil {
			return
		}
		for _, ev := range events {
			for _, r := range e.Match(ev, nil) {
				_ = r.GroupKey(ev)
				d := NewTemplateData(ev)
				for _, tm := range []*Template{r.Title, r.Body} {
					if tm == nil {
						continue
					}
					for m := range numModes {
						_, _ = tm.Render(m, d)
					}
				}
			}
		}
	})
}

func checkPositioned(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var es yamlfile.Errors
	if !errors.As(err, &es) {
		t.Fatalf("error is %T, want yamlfile.Errors: %v", err, err)
	}
	for _, e := range es {
		if e.File != "fuzz.yaml" || e.Line < 0 || e.Msg == "" {
			t.Fatalf("badly positioned error %+v", e)
		}
	}
}
