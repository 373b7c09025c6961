package escape

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncateBytes(t *testing.T) {
	const marker = "…(cut)"
	tests := []struct {
		name string
		s    string
		max  int
		want string
	}{
		{"fits", "abc", 3, "abc"},
		{"ascii", "abcdefghijklmnop", 12, "abcd…(cut)"},
		{"never splits a rune", "日本語日本語日本語", 10 + len(marker), "日本語" + marker}, // 10 bytes hold 3 runes and a third of the fourth
		{"emoji", "😀😀😀😀", 5 + len(marker), "😀" + marker},
		{"marker longer than max", "abcdef", 3, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TruncateBytes(tt.s, tt.max, marker)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if len(got) > tt.max || !utf8.ValidString(got) {
				t.Errorf("%q: %d bytes (max %d), valid %v", got, len(got), tt.max, utf8.ValidString(got))
			}
		})
	}
	long := strings.Repeat("é", 5000)
	for max := 10; max < 40; max++ {
		if got := TruncateBytes(long, max, marker); len(got) > max || !utf8.ValidString(got) || !strings.HasSuffix(got, marker) {
			t.Errorf("max %d: %q", max, got)
		}
	}
}
