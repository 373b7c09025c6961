package callback

import (
	"encoding/json"
	"strconv"
)

// Wire names of the fields an Event exposes to rules and templates, besides
// unknown body fields, which are reachable by their own wire names.
const (
	NameCallbackCommand = "CallbackCommand"
	NameSdkAppid        = "SdkAppid"
	NameClientIP        = "ClientIP"
	NameOptPlatform     = "OptPlatform"
	NameGroupID         = "GroupId"
	NameType            = "Type"
	NameFromAccount     = "From_Account"
	NameOperatorAccount = "Operator_Account"
	NameRandom          = "Random"
	NameOnlineOnlyFlag  = "OnlineOnlyFlag"
	NameCloudCustomData = "CloudCustomData"
	NameErrorCode       = "ErrorCode"
	NameErrorInfo       = "ErrorInfo"
	NameEventTime       = "EventTime"
	// Derived from MsgBody: the MsgType of any element, the Text of any text
	// element. Both can have several values per event.
	NameMsgType = "MsgType"
	NameText    = "Text"
)

// KnownFields lists the single-valued field names Event.Field resolves
// without looking at Extra.
var KnownFields = []string{
	NameCallbackCommand, NameSdkAppid, NameClientIP, NameOptPlatform,
	NameGroupID, NameType, NameFromAccount, NameOperatorAccount, NameRandom,
	NameOnlineOnlyFlag, NameCloudCustomData, NameErrorCode, NameErrorInfo,
	NameEventTime,
}

// IsKnownField reports whether name is a typed or derived field name.
func IsKnownField(name string) bool {
	if name == NameMsgType || name == NameText {
		return true
	}
	for _, k := range KnownFields {
		if k == name {
			return true
		}
	}
	return false
}

// Field returns the value of a single-valued field by wire name as a string:
// decimal for numbers, the raw JSON text for unknown non-string fields.
// ok is false when the event has no such field.
func (e *Event) Field(name string) (v string, ok bool) {
	switch name {
	case NameCallbackCommand:
		return e.Command, true
	case NameSdkAppid:
		return strconv.FormatUint(e.AppID, 10), true
	case NameClientIP:
		return e.ClientIP, e.ClientIP != ""
	case NameOptPlatform:
		return e.OptPlatform, e.OptPlatform != ""
	case NameGroupID:
		return e.GroupID, e.Present.Has(FieldGroupID)
	case NameType:
		return e.GroupType, e.Present.Has(FieldGroupType)
	case NameFromAccount:
		return e.FromAccount, e.Present.Has(FieldFromAccount)
	case NameOperatorAccount:
		return e.OperatorAccount, e.Present.Has(FieldOperatorAccount)
	case NameRandom:
		return strconv.FormatInt(e.Random, 10), e.Present.Has(FieldRandom)
	case NameOnlineOnlyFlag:
		return strconv.FormatInt(e.OnlineOnlyFlag, 10), e.Present.Has(FieldOnlineOnlyFlag)
	case NameCloudCustomData:
		return e.CloudCustomData, e.Present.Has(FieldCloudCustomData)
	case NameErrorCode:
		return strconv.FormatInt(e.ErrorCode, 10), e.Present.Has(FieldErrorCode)
	case NameErrorInfo:
		return e.ErrorInfo, e.Present.Has(FieldErrorInfo)
	case NameEventTime:
		return strconv.FormatInt(e.EventTime, 10), e.Present.Has(FieldEventTime)
	}
	raw, ok := e.Extra[name]
	if !ok {
		return "", false
	}
	return rawString(raw), true
}

// rawString returns a JSON string's value, or any other JSON value's text.
func rawString(raw json.RawMessage) string {
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	return string(raw)
}
