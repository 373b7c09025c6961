package callback

import "strings"

// Group types (Event.GroupType). IM renamed two of them; both names of a pair
// mean the same type.
const (
	GroupPublic     = "Public"
	GroupPrivate    = "Private"  // also "Work"
	GroupChatRoom   = "ChatRoom" // also "Meeting"
	GroupAVChatRoom = "AVChatRoom"
	GroupCommunity  = "Community"
	GroupBChatRoom  = "BChatRoom"
)

// CanonicalGroupType maps a group type name to one spelling per type, so
// "Work" and "Private", "Meeting" and "ChatRoom" compare equal. Matching is
// case-insensitive; unknown names are returned unchanged.
func CanonicalGroupType(s string) string {
	switch strings.ToLower(s) {
	case "public":
		return GroupPublic
	case "private", "work":
		return GroupPrivate
	case "chatroom", "meeting":
		return GroupChatRoom
	case "avchatroom":
		return GroupAVChatRoom
	case "community":
		return GroupCommunity
	case "bchatroom":
		return GroupBChatRoom
	}
	return s
}

// KnownGroupType reports whether s names a documented group type.
func KnownGroupType(s string) bool {
	return CanonicalGroupType(s) != s || s == GroupPublic || s == GroupPrivate ||
		s == GroupChatRoom || s == GroupAVChatRoom || s == GroupCommunity || s == GroupBChatRoom
}
