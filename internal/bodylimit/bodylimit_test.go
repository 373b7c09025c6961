package bodylimit

import "testing"

func TestWithDefaults(t *testing.T) {
	got := Limits{MaxDepth: 8, MaxElements: -1}.WithDefaults()
	want := Default()
	want.MaxDepth = 8
	if got != want {
		t.Errorf("WithDefaults = %+v, want %+v", got, want)
	}
}

// The defaults are within the ranges a config may set, and every range
// keeps a documented IM body whole.
func TestSettings(t *testing.T) {
	for _, s := range Default().Settings() {
		if !s.OK() {
			t.Errorf("default %s = %d, outside %d..%d", s.Key, s.Value, s.Min, s.Max)
		}
	}
	for _, s := range (Limits{}).Settings() {
		if s.OK() {
			t.Errorf("%s = 0 accepted", s.Key)
		}
	}
}
