package server

import (
	"os"
	"regexp"
	"slices"
	"testing"
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
	x := newSecure(t, func(o *Options) { o.Deliveries = noDeliveries{} }) // every optional endpoint
	var routes []string
	for _, r := range x.s.engine.Routes() {
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
