package callback

import "testing"

func TestCatalogue(t *testing.T) {
	c := NewCatalogue(CodeInfo{Code: 10023, Severity: SeverityCritical}, CodeInfo{Code: 99999, Meaning: "ours", Severity: SeverityInfo},
		CodeInfo{Code: 88888, Severity: SeverityCritical}, CodeInfo{Code: 10120, Meaning: "our filter"})
	tests := []struct {
		code     int64
		meaning  string
		severity string
		known    bool
	}{
		{10023, "message sending frequency over the limit", SeverityCritical, true}, // override keeps meaning
		{10017, "sender is muted", SeverityInfo, true},
		{80004, "image contains sensitive content; not delivered", SeverityWarning, true},
		{99999, "ours", SeverityInfo, true},
		{88888, "unknown error code 88888", SeverityCritical, true}, // a new code with a severity only
		{10120, "our filter", SeverityInfo, true},                   // an app code keeps its severity
		{10150, "custom code from the app backend's before-send callback", SeverityInfo, true},
		{12345, "unknown error code 12345", SeverityWarning, false},
	}
	for _, tt := range tests {
		info, ok := c.Lookup(tt.code)
		if info.Meaning != tt.meaning || info.Severity != tt.severity || ok != tt.known {
			t.Errorf("Lookup(%d) = %+v, %v; want %q %q %v", tt.code, info, ok, tt.meaning, tt.severity, tt.known)
		}
	}
	// Every code of Tencent's "Error Codes" page that can reach the
	// exception callback is in the built-in catalogue.
	for _, code := range []int64{10002, 10004, 10010, 10015, 10016, 10017, 10023, 10063, 11000, 80001, 80002, 80003, 80004} {
		if _, ok := NewCatalogue().Lookup(code); !ok {
			t.Errorf("code %d missing from the built-in catalogue", code)
		}
	}
}

func TestCanonicalGroupType(t *testing.T) {
	pairs := [][2]string{{"Work", "Private"}, {"private", "Private"}, {"Meeting", "ChatRoom"}, {"AVChatRoom", "AVChatRoom"}, {"Strange", "Strange"}}
	for _, p := range pairs {
		if got := CanonicalGroupType(p[0]); got != p[1] {
			t.Errorf("CanonicalGroupType(%q) = %q, want %q", p[0], got, p[1])
		}
	}
	if KnownGroupType("Strange") || !KnownGroupType("Meeting") {
		t.Error("KnownGroupType disagrees with the documented types")
	}
}
