package server

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/imalert/imalert/alert/silence"
	"github.com/imalert/imalert/alert/trace"
)

// server/README.md lists every endpoint the server has, and only those.
func TestReadmeListsTheEndpoints(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, m := range regexp.MustCompile("(?m)^\\| `(GET|POST|PUT|DELETE|PATCH) (/[^`]*)`").FindAllStringSubmatch(string(b), -1) {
		listed = append(listed, m[1]+" "+m[2])
	}
	if len(listed) == 0 {
		t.Fatal("no endpoint table in README.md")
	}
	x := newSecure(t, func(o *Options) { // every optional endpoint
		o.Deliveries, o.Trace, o.Silences = noDeliveries{}, noTrace{}, noSilences{}
	})
	var routes []string
	for _, r := range x.s.engine.Routes() {
		// The UI and the profiles are one row each, without a method.
		if strings.HasPrefix(r.Path, "/ui") || strings.HasPrefix(r.Path, "/debug/pprof/") {
			continue
		}
		routes = append(routes, r.Method+" "+r.Path)
	}
	for _, l := range listed {
		if !slices.Contains(routes, l) {
			t.Errorf("README.md lists %s, which the server does not have", l)
		}
	}
	for _, r := range routes {
		if !slices.Contains(listed, r) {
			t.Errorf("the server has %s, which README.md does not list", r)
		}
	}
}

type noTrace struct{}

func (noTrace) List(context.Context, trace.Filter) (trace.Page, error) { return trace.Page{}, nil }
func (noTrace) Get(context.Context, int64) (trace.Event, error)        { return trace.Event{}, nil }

type noSilences struct{}

func (noSilences) Add(context.Context, silence.Request) (silence.Silence, error) {
	return silence.Silence{}, nil
}
func (noSilences) List() []silence.Silence { return nil }
func (noSilences) Expire(context.Context, string) (silence.Silence, error) {
	return silence.Silence{}, nil
}
