package callback

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
