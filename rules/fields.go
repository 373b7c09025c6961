package rules

import (
	"unicode"

	"github.com/imalert/imalert/callback"
)

// aliases maps the snake_case names rule authors may use to wire names.
var aliases = map[string]string{
	"callback_command":  callback.NameCallbackCommand,
	"sdkappid":          callback.NameSdkAppid,
	"sdk_app_id":        callback.NameSdkAppid,
	"client_ip":         callback.NameClientIP,
	"opt_platform":      callback.NameOptPlatform,
	"group_id":          callback.NameGroupID,
	"group_type":        callback.NameType,
	"from_account":      callback.NameFromAccount,
	"operator_account":  callback.NameOperatorAccount,
	"random":            callback.NameRandom,
	"online_only_flag":  callback.NameOnlineOnlyFlag,
	"cloud_custom_data": callback.NameCloudCustomData,
	"error_code":        callback.NameErrorCode,
	"error_info":        callback.NameErrorInfo,
	"event_time":        callback.NameEventTime,
	"msg_type":          callback.NameMsgType,
	"text":              callback.NameText,
}

// fieldName resolves a field name as written in a rule to its wire name.
// Known wire names and aliases resolve; any other name is taken as an
// unknown body field only if it looks like one (IM's body fields start with
// an upper-case letter), so a typo in an alias is reported, not silently
// matched against nothing.
func fieldName(s string) (string, bool) {
	if w, ok := aliases[s]; ok {
		return w, true
	}
	if callback.IsKnownField(s) {
		return s, true
	}
	if s != "" && unicode.IsUpper([]rune(s)[0]) {
		return s, true
	}
	return "", false
}
