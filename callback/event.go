package callback

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Commands imalert gives special treatment. Every other command is accepted
// generically.
const (
	CommandSendMsgException = "Group.CallbackSendMsgException"
)

// Event is one callback as imalert sees it: the query envelope plus the body.
// Known body fields are decoded into typed fields; every other top-level body
// field is kept, as received, in Extra.
type Event struct {
	AppID       uint64 // SdkAppid (query)
	Command     string // CallbackCommand (query; the body repeats it)
	ClientIP    string // query
	OptPlatform string // query

	// ReceivedAt is when imalert received the callback. Decisions (throttle
	// windows, thresholds) run on this clock, so a replay decides as the
	// original run did.
	ReceivedAt time.Time

	GroupID         string       // GroupId
	GroupType       string       // Type
	FromAccount     string       // From_Account
	OperatorAccount string       // Operator_Account
	Random          int64        // Random
	OnlineOnlyFlag  int64        // OnlineOnlyFlag
	MsgBody         []MsgElement // MsgBody
	CloudCustomData string       // CloudCustomData
	ErrorCode       int64        // ErrorCode
	ErrorInfo       string       // ErrorInfo
	EventTime       int64        // EventTime, milliseconds as sent; 0 when absent

	// Present records which typed body fields the body carried, so "absent"
	// and "zero" stay distinguishable for rules and pages.
	Present Fields

	// Extra holds every top-level body field not decoded above (and, for
	// commands other than Group.CallbackSendMsgException, known fields whose
	// JSON type was unexpected), keyed by wire name.
	Extra map[string]json.RawMessage

	// Truncated is set when a string field was longer than
	// Limits.MaxTextBytes and only its beginning was kept.
	Truncated bool
}

// Fields is a set of typed body fields.
type Fields uint16

// The typed body fields of Event.
const (
	FieldGroupID Fields = 1 << iota
	FieldGroupType
	FieldFromAccount
	FieldOperatorAccount
	FieldRandom
	FieldOnlineOnlyFlag
	FieldMsgBody
	FieldCloudCustomData
	FieldErrorCode
	FieldErrorInfo
	FieldEventTime
	fieldCallbackCommand // body copy of the command; never stored separately
)

// Has reports whether every field in f was present in the body.
func (s Fields) Has(f Fields) bool { return s&f == f }

// Time returns EventTime as a time. IM documents milliseconds; a value too
// small to be milliseconds since 1973 is read as seconds, since some IM
// documentation samples send seconds.
func (e *Event) Time() time.Time {
	switch {
	case e.EventTime <= 0:
		return time.Time{}
	case e.EventTime < 1e11:
		return time.Unix(e.EventTime, 0).UTC()
	default:
		return time.UnixMilli(e.EventTime).UTC()
	}
}

// BodyError says what is wrong with a callback body.
type BodyError struct {
	Field string // wire name of the offending field; empty for the body as a whole
	Msg   string
}

func (e *BodyError) Error() string {
	if e.Field == "" {
		return "body: " + e.Msg
	}
	return "body field " + e.Field + ": " + e.Msg
}

// Limits bound the work done on one body. Zero values take the defaults.
type Limits struct {
	MaxDepth    int // JSON nesting depth
	MaxElements int // elements in MsgBody
	MaxFields   int // top-level fields of one event body
	MaxEvents   int // events in one Push.* batch body
	// MaxTextBytes is how much of any one string field is kept; a longer
	// value is cut at a UTF-8 boundary and the event marked Truncated.
	MaxTextBytes int
}

// DefaultLimits are generous for anything IM sends: its deepest documented
// body nests about five levels, a message holds a handful of elements, the
// widest body has about fifteen fields, a Push batch holds at most 100
// events, and a message is at most 12 KB.
var DefaultLimits = Limits{MaxDepth: 32, MaxElements: 256, MaxFields: 256, MaxEvents: 200, MaxTextBytes: 16 << 10}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxElements <= 0 {
		l.MaxElements = DefaultLimits.MaxElements
	}
	if l.MaxFields <= 0 {
		l.MaxFields = DefaultLimits.MaxFields
	}
	if l.MaxEvents <= 0 {
		l.MaxEvents = DefaultLimits.MaxEvents
	}
	if l.MaxTextBytes <= 0 {
		l.MaxTextBytes = DefaultLimits.MaxTextBytes
	}
	return l
}

// Parse decodes a callback body for the envelope q.
//
// The body must be one JSON object. For Group.CallbackSendMsgException every
// documented field must have its documented type (integers may arrive as
// numbers or as decimal strings, as IM's own samples do); any other command is
// decoded leniently, and a known field of an unexpected type is kept in Extra.
// Unknown fields are always kept.
func Parse(q Query, body []byte, lim Limits) (*Event, error) {
	lim = lim.withDefaults()
	fields, err := decodeObject(body, lim)
	if err != nil {
		return nil, err
	}
	if len(fields) > lim.MaxFields {
		return nil, &BodyError{Msg: fmt.Sprintf("%d fields, more than %d", len(fields), lim.MaxFields)}
	}
	ev := &Event{
		AppID:       q.AppID,
		Command:     q.Command,
		ClientIP:    q.ClientIP,
		OptPlatform: q.OptPlatform,
	}
	strict := q.Command == CommandSendMsgException
	for name, raw := range fields {
		f, err := ev.decodeField(name, raw, lim)
		if err != nil {
			// A limit is a limit for every command; a type quirk is
			// tolerated outside the exception callback.
			var ol overLimit
			if strict || errors.As(err, &ol) {
				return nil, &BodyError{Field: name, Msg: err.Error()}
			}
			f = 0 // keep the raw value instead
		}
		if f == 0 {
			if ev.Extra == nil {
				ev.Extra = make(map[string]json.RawMessage)
			}
			ev.Extra[name] = ev.clipRaw(raw, lim.MaxTextBytes)
			continue
		}
		ev.Present |= f
	}
	ev.Present &^= fieldCallbackCommand
	ev.clipStrings(lim.MaxTextBytes)
	return ev, nil
}

// overLimit is an error for a body that exceeds a Limit, rather than one of
// unexpected shape.
type overLimit string

func (e overLimit) Error() string { return string(e) }

// decodeObject checks that body is one JSON object within lim's depth, and
// splits it into its top-level fields.
func decodeObject(body []byte, lim Limits) (map[string]json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, &BodyError{Msg: "empty"}
	}
	if body[0] != '{' {
		return nil, &BodyError{Msg: "not a JSON object"}
	}
	if err := checkDepth(body, lim.MaxDepth); err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, &BodyError{Msg: "invalid JSON: " + jsonErrText(err)}
	}
	return fields, nil
}

// decodeField decodes one known top-level field into ev and returns which
// field it was, or 0 for a field Event has no typed slot for.
func (ev *Event) decodeField(name string, raw json.RawMessage, lim Limits) (Fields, error) {
	var err error
	switch name {
	case "CallbackCommand":
		var s string
		if err = decodeString(raw, &s); err == nil {
			return fieldCallbackCommand, nil
		}
	case "GroupId":
		if err = decodeString(raw, &ev.GroupID); err == nil {
			return FieldGroupID, nil
		}
	case "Type":
		if err = decodeString(raw, &ev.GroupType); err == nil {
			return FieldGroupType, nil
		}
	case "From_Account":
		if err = decodeString(raw, &ev.FromAccount); err == nil {
			return FieldFromAccount, nil
		}
	case "Operator_Account":
		if err = decodeString(raw, &ev.OperatorAccount); err == nil {
			return FieldOperatorAccount, nil
		}
	case "CloudCustomData":
		if err = decodeString(raw, &ev.CloudCustomData); err == nil {
			return FieldCloudCustomData, nil
		}
	case "ErrorInfo":
		if err = decodeString(raw, &ev.ErrorInfo); err == nil {
			return FieldErrorInfo, nil
		}
	case "Random":
		if ev.Random, err = decodeInt(raw); err == nil {
			return FieldRandom, nil
		}
	case "OnlineOnlyFlag":
		if ev.OnlineOnlyFlag, err = decodeInt(raw); err == nil {
			return FieldOnlineOnlyFlag, nil
		}
	case "ErrorCode":
		if ev.ErrorCode, err = decodeInt(raw); err == nil {
			return FieldErrorCode, nil
		}
	case "EventTime":
		if ev.EventTime, err = decodeInt(raw); err == nil {
			if ev.EventTime < 0 {
				ev.EventTime = 0
				return 0, errors.New("negative time")
			}
			return FieldEventTime, nil
		}
	case "MsgBody":
		if ev.MsgBody, err = decodeMsgBody(raw, lim.MaxElements); err == nil {
			return FieldMsgBody, nil
		}
	default:
		return 0, nil
	}
	return 0, err
}

func decodeString(raw json.RawMessage, dst *string) error {
	if len(raw) == 0 || raw[0] != '"' {
		return fmt.Errorf("want a string, got %s", jsonKind(raw))
	}
	return json.Unmarshal(raw, dst)
}

// decodeInt accepts a JSON integer or a string holding a decimal integer:
// IM's documentation sends EventTime both ways, and does the same to other
// integer fields across callbacks.
func decodeInt(raw json.RawMessage) (int64, error) {
	s := raw
	if len(s) > 0 && s[0] == '"' {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return 0, err
		}
		s = []byte(str)
	} else if len(s) == 0 || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return 0, fmt.Errorf("want an integer, got %s", jsonKind(raw))
	}
	n, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		return 0, errors.New("want an integer")
	}
	return n, nil
}

func jsonKind(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// jsonErrText describes a decoding error without echoing payload bytes.
func jsonErrText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("unexpected %s at byte %d", te.Value, te.Offset)
	}
	return "malformed"
}

// checkDepth rejects bodies nested deeper than max before any decoding
// allocates for them.
func checkDepth(b []byte, max int) error {
	depth := 0
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > max {
				return &BodyError{Msg: fmt.Sprintf("nested deeper than %d levels", max)}
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}
