package callback

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/imalert/imalert/internal/bodylimit"
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
	// LeftOut counts what the limits cut from the body. Rules never saw
	// it, so a page says so.
	LeftOut LeftOut
}

// LeftOut counts the parts of a body that exceeded a Limit and were left
// out of the event, rather than refusing a callback IM will not resend.
type LeftOut struct {
	// Elements of MsgBody beyond Limits.MaxElements, or nested deeper than
	// Limits.MaxDepth.
	Elements int
	// Unknown top-level fields beyond Limits.MaxFields, or nested deeper
	// than Limits.MaxDepth.
	Fields int
	// Events of a Push.* batch beyond Limits.MaxEvents; set on every event
	// of the batch that was kept.
	Events int
}

// Any reports whether anything was left out.
func (l LeftOut) Any() bool { return l != LeftOut{} }

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

// Limits bound the work done on one body; see bodylimit.Limits. Zero
// values take the defaults.
type Limits = bodylimit.Limits

// Parse decodes a callback body for the envelope q.
//
// The body must be one JSON object. For Group.CallbackSendMsgException every
// documented field must have its documented type (integers may arrive as
// numbers or as decimal strings, as IM's own samples do); any other command is
// decoded leniently, and a known field of an unexpected type is kept in Extra.
// Unknown fields are always kept. A field whose value is null is absent.
//
// No body is refused for exceeding a Limit: what exceeds one is left out
// and counted in Event.LeftOut, as long text is cut and marked Truncated.
func Parse(q Query, body []byte, lim Limits) (*Event, error) {
	lim = lim.WithDefaults()
	fields, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	ev := &Event{
		AppID:       q.AppID,
		Command:     q.Command,
		ClientIP:    q.ClientIP,
		OptPlatform: q.OptPlatform,
	}
	keep := ev.keepExtras(fields, lim.MaxFields)
	strict := q.Command == CommandSendMsgException
	for name, raw := range fields {
		if isNull(raw) {
			continue
		}
		s := byWireName[name]
		if s == nil || s.Where == InElement {
			if keep != nil && !keep[name] {
				continue // counted by keepExtras
			}
			if checkDepth(raw, lim.MaxDepth-1) != nil {
				ev.LeftOut.Fields++
				continue
			}
			ev.setExtra(name, raw, lim.MaxTextBytes)
			continue
		}
		if err := ev.decodeField(s, raw, lim); err != nil {
			if strict {
				return nil, &BodyError{Field: name, Msg: err.Error()}
			}
			// A type quirk is tolerated outside the exception callback:
			// keep the raw value instead.
			ev.setExtra(name, raw, lim.MaxTextBytes)
		}
	}
	ev.clipStrings(lim.MaxTextBytes)
	return ev, nil
}

// keepExtras decides, when the body has more than max fields, which unknown
// fields are kept: typed fields always are, then unknown ones in name
// order, so that a replay keeps the same ones. It returns nil when every
// field is kept.
func (ev *Event) keepExtras(fields map[string]json.RawMessage, max int) map[string]bool {
	if len(fields) <= max {
		return nil
	}
	var unknown []string
	for name := range fields {
		if s := byWireName[name]; s == nil || s.Where == InElement {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	room := max - (len(fields) - len(unknown))
	keep := make(map[string]bool, max)
	for i, name := range unknown {
		if i < room {
			keep[name] = true
		} else {
			ev.LeftOut.Fields++
		}
	}
	return keep
}

func (ev *Event) setExtra(name string, raw json.RawMessage, maxText int) {
	if ev.Extra == nil {
		ev.Extra = make(map[string]json.RawMessage)
	}
	ev.Extra[name] = ev.clipRaw(bytes.Clone(raw), maxText) // not the body
}

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

// isEmpty reports whether raw is an empty array or object. Producers that
// do not tell lists from maps (PHP's json_encode) write an empty list as
// {}, so either is read as empty wherever a list or an object is expected.
func isEmpty(raw json.RawMessage) bool {
	if len(raw) < 2 || raw[0] != '[' && raw[0] != '{' {
		return false
	}
	return len(bytes.TrimSpace(raw[1:len(raw)-1])) == 0
}

// decodeObject checks that body is one JSON object and splits it into its
// top-level fields. Nested values stay raw, sub-slices of body: nothing is
// allocated for them. As with encoding/json, the last of two fields of
// one name wins.
func decodeObject(body []byte) (map[string]json.RawMessage, error) {
	// A byte order mark is no part of JSON, but RFC 8259 lets a parser
	// ignore one, and refusing the body would lose the event.
	body = bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
	if len(body) == 0 {
		return nil, &BodyError{Msg: "empty"}
	}
	if body[0] != '{' {
		return nil, &BodyError{Msg: "not a JSON object"}
	}
	fields := make(map[string]json.RawMessage, 16)
	err := members(body, func(name string, raw []byte) { fields[name] = raw })
	if err != nil {
		return nil, &BodyError{Msg: "invalid JSON: " + jsonErrText(err)}
	}
	return fields, nil
}

// decodeField decodes the typed field s into ev.
func (ev *Event) decodeField(s *FieldSpec, raw json.RawMessage, lim Limits) error {
	var err error
	switch {
	case s.str != nil:
		err = decodeString(raw, s.str(ev))
	case s.num != nil:
		p := s.num(ev)
		if *p, err = decodeInt(raw); err == nil && s.nonNegative && *p < 0 {
			err = errors.New("negative value")
		}
		if err != nil {
			*p = 0
		}
	case s.Kind == KindElements:
		ev.MsgBody, err = ev.decodeMsgBody(raw, lim)
	case s.Where == InQuery:
		// The body's copy of a query field (CallbackCommand): the query's
		// value counts.
		var v string
		return decodeString(raw, &v)
	}
	if err == nil {
		ev.Present |= s.Bit
	}
	return err
}

func decodeString(raw json.RawMessage, dst *string) error {
	if len(raw) == 0 || raw[0] != '"' {
		return fmt.Errorf("want a string, got %s", jsonKind(raw))
	}
	if plainString(raw) {
		*dst = string(raw[1 : len(raw)-1])
		return nil
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
		if err := decodeString(raw, &str); err != nil {
			return 0, err
		}
		s = []byte(str)
	} else if len(s) == 0 || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return 0, fmt.Errorf("want an integer, got %s", jsonKind(raw))
	}
	n, err := strconv.ParseInt(string(s), 10, 64)
	if err == nil {
		return n, nil
	}
	// JSON has numbers, not integers: 10023.0 and 1.0023e4 are 10023 to
	// the producer, and a space around a decimal string is no reason to
	// lose an alert.
	f, ferr := strconv.ParseFloat(strings.TrimSpace(string(s)), 64)
	if ferr != nil || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, errors.New("want an integer")
	}
	return int64(f), nil
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
	var ss *syntaxError
	if errors.As(err, &ss) {
		return fmt.Sprintf("syntax error at byte %d", ss.Offset)
	}
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

// checkDepth reports a value nested deeper than max, before any decoding
// allocates for it.
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
