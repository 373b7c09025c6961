package callback

import "slices"

// knownCommands are the callback commands IM documents: Tencent Chat's
// "Webhook Overview" and its per-command webhook pages, whose sample bodies
// are in testdata/samples/tencent-docs and testdata/commands. Metrics label
// by these names only, so a caller inventing command names cannot grow label
// cardinality.
var knownCommands = map[string]bool{
	"State.StateChange":                                     true,
	"C2C.CallbackBeforeSendMsg":                             true,
	"C2C.CallbackAfterSendMsg":                              true,
	"C2C.CallbackAfterMsgReport":                            true,
	"C2C.CallbackAfterMsgWithDraw":                          true,
	"Group.CallbackBeforeCreateGroup":                       true,
	"Group.CallbackAfterCreateGroup":                        true,
	"Group.CallbackBeforeApplyJoinGroup":                    true,
	"Group.CallbackBeforeInviteJoinGroup":                   true,
	"Group.CallbackAfterNewMemberJoin":                      true,
	"Group.CallbackAfterMemberExit":                         true,
	"Group.CallbackBeforeSendMsg":                           true,
	"Group.CallbackAfterSendMsg":                            true,
	"Group.CallbackAfterGroupFull":                          true,
	"Group.CallbackAfterGroupDestroyed":                     true,
	"Group.CallbackAfterGroupInfoChanged":                   true,
	"Group.CallbackOnMemberStateChange":                     true,
	"Group.CallbackAfterRecallMsg":                          true,
	"Group.CallbackSendMsgException":                        true,
	"Group.CallbackOnDailyGroupQuotaAlarm":                  true,
	"Group.CallbackBeforeCreateTopic":                       true,
	"Group.CallbackAfterCreateTopic":                        true,
	"Group.CallbackAfterTopicDestroyed":                     true,
	"Group.CallbackAfterTopicInfoChanged":                   true,
	"Group.CallbackAfterMarkMsgAsRead":                      true,
	"Group.CallbackAfterReadReceipt":                        true,
	"Alert.RequestOverLimit":                                true,
	"Sns.CallbackPrevFriendAdd":                             true,
	"Sns.CallbackPrevFriendResponse":                        true,
	"Sns.CallbackFriendAdd":                                 true,
	"Sns.CallbackFriendDelete":                              true,
	"Sns.CallbackBlackListAdd":                              true,
	"Sns.CallbackBlackListDelete":                           true,
	"Profile.CallbackPortraitSet":                           true,
	"Push.OfflinePush":                                      true,
	"Push.AllMemberPush":                                    true,
	"OfficialAccount.CallbackAfterCreateOfficialAccount":    true,
	"OfficialAccount.CallbackAfterOfficialAccountDestroyed": true,
	"OfficialAccount.CallbackAfterAddSubscriber":            true,
	"OfficialAccount.CallbackAfterDeleteSubscriber":         true,
	"OfficialAccount.CallbackAfterOfficialAccountFull":      true,
}

// CommandLabel returns cmd if IM documents it, else "other".
func CommandLabel(cmd string) string {
	if knownCommands[cmd] {
		return cmd
	}
	return "other"
}

// IsDocumentedCommand reports whether IM documents cmd.
func IsDocumentedCommand(cmd string) bool { return knownCommands[cmd] }

// DocumentedCommands returns the commands IM documents, sorted.
func DocumentedCommands() []string {
	out := make([]string, 0, len(knownCommands))
	for c := range knownCommands {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// carriedBy maps each body field of a documented sample to the commands
// whose samples carry it.
var carriedBy = func() map[string][]string {
	m := map[string][]string{}
	for cmd, fields := range documentedFields {
		for _, f := range fields {
			m[f] = append(m[f], cmd)
		}
	}
	for _, cmds := range m {
		slices.Sort(cmds)
	}
	return m
}()

// CommandsCarrying returns, sorted, the documented commands whose sample
// bodies carry the top-level body field name. Query fields, which every
// command carries, are not listed.
func CommandsCarrying(name string) []string { return slices.Clone(carriedBy[name]) }

// HasSample reports whether cmd has a documented sample body, so that
// which fields it carries is known.
func HasSample(cmd string) bool { _, ok := documentedFields[cmd]; return ok }

// DocumentedBodyFields returns, sorted, every top-level body field a
// documented command's sample carries.
func DocumentedBodyFields() []string {
	out := make([]string, 0, len(carriedBy))
	for f := range carriedBy {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}
