package callback

import (
	"encoding/json"
	"math"
	"strconv"
)

// Wire names of the fields code refers to by name. Every field an Event
// exposes is described once, in fieldTable; these constants only name rows.
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
	NameMsgBody         = "MsgBody"
	NameCloudCustomData = "CloudCustomData"
	NameErrorCode       = "ErrorCode"
	NameErrorInfo       = "ErrorInfo"
	NameEventTime       = "EventTime"
	// Derived from MsgBody: the MsgType of any element, the Text of any text
	// element. Both can have several values per event.
	NameMsgType = "MsgType"
	NameText    = "Text"
)

// Kind is the shape of a field's value.
type Kind uint8

// Field kinds.
const (
	KindString   Kind = iota // one string
	KindInt                  // one integer: a JSON number or a decimal string
	KindElements             // MsgBody: read through the per-element fields
	KindPerElem              // one value per message element (MsgType, Text)
)

// Where says where a field comes from.
type Where uint8

// Field sources.
const (
	InQuery   Where = iota // the URL query (the body may repeat it)
	InBody                 // a top-level body field with a typed slot in Event
	InElement              // derived from each element of MsgBody
)

// FieldSpec describes one field an Event exposes to rules and templates:
// its wire name, the names rule files may also use, its kind, and how to
// read it. The table of them drives the body decoder, clipping, Event.Field
// and the rule compiler; adding a typed field means adding a slot to Event,
// a presence bit to Fields and a row to fieldTable.
type FieldSpec struct {
	Name    string   // wire name, as IM spells it
	Aliases []string // snake_case names rule files may use instead
	Kind    Kind
	Where   Where
	Bit     Fields // presence bit of a body field; 0 for the others

	// Body fields: where the decoder writes. A body string is cut to
	// Limits.MaxTextBytes.
	str func(*Event) *string
	num func(*Event) *int64
	// Query fields: how to read them, as text and (KindInt) as a number.
	query    func(*Event) (string, bool)
	queryInt func(*Event) (int64, bool)
	// Per-element fields: the value of element i, if it has one.
	elem func(*MsgElement) (string, bool)
	// nonNegative refuses negative integers (a negative time).
	nonNegative bool
}

// Single reports whether the field has at most one value per event, so
// that it can group events and Event.Field reads it.
func (s *FieldSpec) Single() bool { return s.Kind == KindString || s.Kind == KindInt }

// Str returns a KindString field's value; ok is false when ev lacks it.
func (s *FieldSpec) Str(ev *Event) (v string, ok bool) {
	switch {
	case s.str != nil:
		return *s.str(ev), ev.Present.Has(s.Bit)
	case s.query != nil && s.Kind == KindString:
		return s.query(ev)
	}
	return "", false
}

// Int returns a KindInt field's value; ok is false when ev lacks it.
func (s *FieldSpec) Int(ev *Event) (v int64, ok bool) {
	switch {
	case s.num != nil:
		return *s.num(ev), ev.Present.Has(s.Bit)
	case s.queryInt != nil:
		return s.queryInt(ev)
	}
	return 0, false
}

// Elem returns a KindPerElem field's value for one message element; ok is
// false when the element has no such value (Text of an image).
func (s *FieldSpec) Elem(el *MsgElement) (v string, ok bool) {
	if s.elem == nil {
		return "", false
	}
	return s.elem(el)
}

// format returns a single-valued field as text: decimal for integers.
func (s *FieldSpec) format(ev *Event) (string, bool) {
	switch {
	case s.query != nil:
		return s.query(ev)
	case s.Kind == KindInt:
		v, ok := s.Int(ev)
		return strconv.FormatInt(v, 10), ok
	}
	return s.Str(ev)
}

func nonEmpty(s string) (string, bool) { return s, s != "" }

// fieldTable is the one list of the fields an Event exposes.
var fieldTable = []FieldSpec{
	{Name: NameCallbackCommand, Aliases: []string{"callback_command"}, Kind: KindString, Where: InQuery,
		query: func(e *Event) (string, bool) { return e.Command, true }},
	{Name: NameSdkAppid, Aliases: []string{"sdkappid", "sdk_app_id"}, Kind: KindInt, Where: InQuery,
		query:    func(e *Event) (string, bool) { return strconv.FormatUint(e.AppID, 10), true },
		queryInt: func(e *Event) (int64, bool) { return int64(e.AppID), e.AppID <= math.MaxInt64 }},
	{Name: NameClientIP, Aliases: []string{"client_ip"}, Kind: KindString, Where: InQuery,
		query: func(e *Event) (string, bool) { return nonEmpty(e.ClientIP) }},
	{Name: NameOptPlatform, Aliases: []string{"opt_platform"}, Kind: KindString, Where: InQuery,
		query: func(e *Event) (string, bool) { return nonEmpty(e.OptPlatform) }},
	{Name: NameGroupID, Aliases: []string{"group_id"}, Kind: KindString, Where: InBody, Bit: FieldGroupID,
		str: func(e *Event) *string { return &e.GroupID }},
	{Name: NameType, Aliases: []string{"group_type", "type"}, Kind: KindString, Where: InBody, Bit: FieldGroupType,
		str: func(e *Event) *string { return &e.GroupType }},
	{Name: NameFromAccount, Aliases: []string{"from_account"}, Kind: KindString, Where: InBody, Bit: FieldFromAccount,
		str: func(e *Event) *string { return &e.FromAccount }},
	{Name: NameOperatorAccount, Aliases: []string{"operator_account"}, Kind: KindString, Where: InBody, Bit: FieldOperatorAccount,
		str: func(e *Event) *string { return &e.OperatorAccount }},
	{Name: NameRandom, Aliases: []string{"random"}, Kind: KindInt, Where: InBody, Bit: FieldRandom,
		num: func(e *Event) *int64 { return &e.Random }},
	{Name: NameOnlineOnlyFlag, Aliases: []string{"online_only_flag"}, Kind: KindInt, Where: InBody, Bit: FieldOnlineOnlyFlag,
		num: func(e *Event) *int64 { return &e.OnlineOnlyFlag }},
	{Name: NameMsgBody, Aliases: []string{"msg_body"}, Kind: KindElements, Where: InBody, Bit: FieldMsgBody},
	{Name: NameCloudCustomData, Aliases: []string{"cloud_custom_data"}, Kind: KindString, Where: InBody, Bit: FieldCloudCustomData,
		str: func(e *Event) *string { return &e.CloudCustomData }},
	{Name: NameErrorCode, Aliases: []string{"error_code"}, Kind: KindInt, Where: InBody, Bit: FieldErrorCode,
		num: func(e *Event) *int64 { return &e.ErrorCode }},
	{Name: NameErrorInfo, Aliases: []string{"error_info"}, Kind: KindString, Where: InBody, Bit: FieldErrorInfo,
		str: func(e *Event) *string { return &e.ErrorInfo }},
	{Name: NameEventTime, Aliases: []string{"event_time"}, Kind: KindInt, Where: InBody, Bit: FieldEventTime,
		num: func(e *Event) *int64 { return &e.EventTime }, nonNegative: true},
	{Name: NameMsgType, Aliases: []string{"msg_type"}, Kind: KindPerElem, Where: InElement,
		elem: func(el *MsgElement) (string, bool) { return el.Type, true }},
	{Name: NameText, Aliases: []string{"text"}, Kind: KindPerElem, Where: InElement,
		elem: func(el *MsgElement) (string, bool) { return el.Content.Text, el.Type == ElemText }},
}

// Indexes over fieldTable, built once.
var (
	byWireName = map[string]*FieldSpec{} // wire name
	byAnyName  = map[string]*FieldSpec{} // wire name or alias
	bodyStrs   []*FieldSpec              // body string fields, for clipping
)

func init() {
	for i := range fieldTable {
		s := &fieldTable[i]
		byWireName[s.Name] = s
		byAnyName[s.Name] = s
		for _, a := range s.Aliases {
			byAnyName[a] = s
		}
		if s.str != nil {
			bodyStrs = append(bodyStrs, s)
		}
	}
}

// FieldSpecs returns the descriptions of every field an Event exposes, in
// table order.
func FieldSpecs() []*FieldSpec {
	out := make([]*FieldSpec, len(fieldTable))
	for i := range fieldTable {
		out[i] = &fieldTable[i]
	}
	return out
}

// LookupField returns the field whose wire name or alias is name.
func LookupField(name string) (*FieldSpec, bool) {
	s, ok := byAnyName[name]
	return s, ok
}

// IsKnownField reports whether name is the wire name of a typed or derived
// field.
func IsKnownField(name string) bool {
	_, ok := byWireName[name]
	return ok
}

// Field returns the value of a single-valued field by wire name as a string:
// decimal for numbers, the raw JSON text for unknown non-string fields.
// ok is false when the event has no such field.
func (e *Event) Field(name string) (v string, ok bool) {
	if s := byWireName[name]; s != nil {
		if !s.Single() {
			return "", false
		}
		return s.format(e)
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
