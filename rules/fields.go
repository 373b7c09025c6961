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
	"type":              callback.NameType,
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
	if s != "" && len(s) <= 128 && unicode.IsUpper([]rune(s)[0]) {
		return s, true
	}
	return "", false
}

// fieldKind is how a condition reads a field, chosen at compile time so
// that matching reads typed event fields without formatting or allocating.
type fieldKind uint8

const (
	kindCommand fieldKind = iota
	kindAppID
	kindClientIP
	kindPlatform
	kindGroupID
	kindGroupType
	kindFrom
	kindOperator
	kindRandom
	kindOnlineOnly
	kindCustomData
	kindErrorCode
	kindErrorInfo
	kindEventTime
	kindMsgType // multi-valued: any element
	kindText    // multi-valued: any text element
	kindExtra   // an unknown body field, by wire name
)

// fieldRef is a compiled reference to one event field.
type fieldRef struct {
	kind fieldKind
	name string // wire name
}

func newFieldRef(wire string) fieldRef {
	k := kindExtra
	switch wire {
	case callback.NameCallbackCommand:
		k = kindCommand
	case callback.NameSdkAppid:
		k = kindAppID
	case callback.NameClientIP:
		k = kindClientIP
	case callback.NameOptPlatform:
		k = kindPlatform
	case callback.NameGroupID:
		k = kindGroupID
	case callback.NameType:
		k = kindGroupType
	case callback.NameFromAccount:
		k = kindFrom
	case callback.NameOperatorAccount:
		k = kindOperator
	case callback.NameRandom:
		k = kindRandom
	case callback.NameOnlineOnlyFlag:
		k = kindOnlineOnly
	case callback.NameCloudCustomData:
		k = kindCustomData
	case callback.NameErrorCode:
		k = kindErrorCode
	case callback.NameErrorInfo:
		k = kindErrorInfo
	case callback.NameEventTime:
		k = kindEventTime
	case callback.NameMsgType:
		k = kindMsgType
	case callback.NameText:
		k = kindText
	}
	return fieldRef{kind: k, name: wire}
}

// numeric reports whether the field holds an integer.
func (f fieldRef) numeric() bool {
	switch f.kind {
	case kindAppID, kindRandom, kindOnlineOnly, kindErrorCode, kindEventTime:
		return true
	}
	return false
}

// str returns a single-valued string field.
func (f fieldRef) str(ev *callback.Event) (string, bool) {
	switch f.kind {
	case kindCommand:
		return ev.Command, true
	case kindClientIP:
		return ev.ClientIP, ev.ClientIP != ""
	case kindPlatform:
		return ev.OptPlatform, ev.OptPlatform != ""
	case kindGroupID:
		return ev.GroupID, ev.Present.Has(callback.FieldGroupID)
	case kindGroupType:
		return ev.GroupType, ev.Present.Has(callback.FieldGroupType)
	case kindFrom:
		return ev.FromAccount, ev.Present.Has(callback.FieldFromAccount)
	case kindOperator:
		return ev.OperatorAccount, ev.Present.Has(callback.FieldOperatorAccount)
	case kindCustomData:
		return ev.CloudCustomData, ev.Present.Has(callback.FieldCloudCustomData)
	case kindErrorInfo:
		return ev.ErrorInfo, ev.Present.Has(callback.FieldErrorInfo)
	}
	return "", false
}

// num returns a numeric field.
func (f fieldRef) num(ev *callback.Event) (int64, bool) {
	switch f.kind {
	case kindAppID:
		if ev.AppID > 1<<63-1 {
			return 0, false
		}
		return int64(ev.AppID), true
	case kindRandom:
		return ev.Random, ev.Present.Has(callback.FieldRandom)
	case kindOnlineOnly:
		return ev.OnlineOnlyFlag, ev.Present.Has(callback.FieldOnlineOnlyFlag)
	case kindErrorCode:
		return ev.ErrorCode, ev.Present.Has(callback.FieldErrorCode)
	case kindEventTime:
		return ev.EventTime, ev.Present.Has(callback.FieldEventTime)
	}
	return 0, false
}

// extra returns an unknown body field: a JSON string's contents, or any
// other JSON value's text. A string without escapes is returned without
// decoding, so the common case does not allocate.
func extra(ev *callback.Event, name string) ([]byte, bool) {
	raw, ok := ev.Extra[name]
	if !ok {
		return nil, false
	}
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		inner := raw[1 : len(raw)-1]
		for _, c := range inner {
			if c == '\\' {
				v, _ := ev.Field(name)
				return []byte(v), true
			}
		}
		return inner, true
	}
	return raw, true
}
