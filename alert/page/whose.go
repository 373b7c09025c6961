package page

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
)

// maxWhose bounds each group-key value named in a title or subject, in
// runes: long enough to tell keys apart, short enough for a phone.
const maxWhose = 64

// KeyLabel is how a page names a group_by field: "group" for GroupId,
// "sender" for From_Account, the wire name otherwise.
func KeyLabel(field string) string {
	switch field {
	case callback.NameGroupID:
		return "group"
	case callback.NameFromAccount:
		return "sender"
	case callback.NameOperatorAccount:
		return "operator"
	case callback.NameType:
		return "group type"
	}
	return field
}

// Whose names the group key of n for titles and subjects: "sender jared"
// for a sender-keyed rule, "group @TGS#2J4SZEAEL" for a group-keyed one,
// each group_by field in turn for others. It is empty for a rule without
// group_by. The values are cleaned and truncated, not escaped.
func Whose(n *notify.Notification) string {
	pairs := parseKey(n.GroupKey)
	parts := make([]string, 0, len(pairs))
	for _, kv := range pairs {
		v := Clean(kv[1], maxWhose)
		if v == "" {
			v = "(none)"
		}
		parts = append(parts, KeyLabel(kv[0])+" "+v)
	}
	return strings.Join(parts, ", ")
}

// parseKey splits a group key as rules.Rule.GroupKey writes it
// (GroupId="@TGS#1" From_Account="jared") into field and value pairs. It
// reads the key kept in the outbox too, so it stops at anything it cannot
// read rather than guess.
func parseKey(key string) [][2]string {
	var out [][2]string
	for key != "" {
		eq := strings.IndexByte(key, '=')
		if eq <= 0 {
			return out
		}
		name := key[:eq]
		quoted, err := strconv.QuotedPrefix(key[eq+1:])
		if err != nil {
			return out
		}
		v, err := strconv.Unquote(quoted)
		if err != nil {
			return out
		}
		out = append(out, [2]string{name, v})
		key = strings.TrimPrefix(key[eq+1+len(quoted):], " ")
	}
	return out
}

// countedLine lists the groups or senders a threshold counted:
// "senders counted: alice (5), bob (3) and 4 more".
func countedLine(th notify.ThresholdCount) string {
	if th.By == "" || len(th.Top)+th.More == 0 {
		return ""
	}
	parts := make([]string, 0, len(th.Top))
	for _, c := range th.Top {
		name := Clean(c.Name, maxWhose)
		if name == "" {
			name = "(none)"
		}
		parts = append(parts, fmt.Sprintf("%s (%d)", name, c.Count))
	}
	line := KeyLabel(th.By) + "s counted: " + strings.Join(parts, ", ")
	switch {
	case th.More > 0 && len(parts) == 0:
		line += fmt.Sprintf("%d", th.More)
	case th.More > 0:
		line += fmt.Sprintf(" and %d more", th.More)
	}
	return line
}
