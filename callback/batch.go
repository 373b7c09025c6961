package callback

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// IsBatch reports whether cmd's body is a batch of events,
// {"Events":[...]}: IM's Push.* callbacks send 1 to 100 events per request,
// each with its own CallbackCommand, and none at the top level.
func IsBatch(cmd string) bool { return strings.HasPrefix(cmd, "Push.") }

// Item is one event of a callback body with the JSON it was decoded from:
// the whole body, or one element of a batch's Events.
type Item struct {
	Event *Event
	Body  []byte
}

// DedupKey is DedupKey(it.Event, it.Body).
func (it Item) DedupKey() string { return DedupKey(it.Event, it.Body) }

// ParseEvents decodes a callback body into the events it carries: one event
// for every command except a Push.* batch, which yields one event per
// element of Events, in order. Every event takes its command and envelope
// from q. A Push.* body without Events is read as a single event.
func ParseEvents(q Query, body []byte, lim Limits) ([]Item, error) {
	one := func(b []byte) ([]Item, error) {
		ev, err := Parse(q, b, lim)
		if err != nil {
			return nil, err
		}
		return []Item{{Event: ev, Body: b}}, nil
	}
	if !IsBatch(q.Command) {
		return one(body)
	}
	lim = lim.WithDefaults()
	top, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	raw, ok := top["Events"]
	if !ok || isNull(raw) {
		return one(body)
	}
	if isEmpty(raw) {
		return []Item{}, nil
	}
	if len(raw) == 0 || raw[0] != '[' {
		return nil, &BodyError{Field: "Events", Msg: "want an array, got " + jsonKind(raw)}
	}
	var elems [][]byte
	if err := elements(raw, func(e []byte) { elems = append(elems, e) }); err != nil {
		return nil, &BodyError{Field: "Events", Msg: jsonErrText(err)}
	}
	out := make([]Item, 0, min(len(elems), lim.MaxEvents))
	left := 0
	for i, e := range elems {
		if isNull(e) {
			continue
		}
		if len(out) == lim.MaxEvents {
			left++
			continue
		}
		if len(e) == 0 || e[0] != '{' {
			return nil, &BodyError{Field: "Events", Msg: fmt.Sprintf("element %d: want an object, got %s", i, jsonKind(e))}
		}
		ev, err := Parse(q, e, lim)
		if err != nil {
			return nil, &BodyError{Field: "Events", Msg: fmt.Sprintf("element %d: %v", i, err)}
		}
		out = append(out, Item{Event: ev, Body: e})
	}
	for _, it := range out {
		it.Event.LeftOut.Events = left
	}
	return out, nil
}

// DedupKey identifies one callback across deliveries: IM retrying it, or
// someone replaying a captured request inside the signature window. For
// Group.CallbackSendMsgException, which carries no event id, it is built
// from the fields that identify one failed send (SdkAppid, GroupId,
// From_Account, Random, ErrorCode, EventTime), so a
// retry matches even if IM re-encodes the body; for every other command, and
// for an exception lacking Random or EventTime, it is a digest of the
// command and body, the event's JSON as received. The key is fixed-size
// whatever the payload.
func DedupKey(e *Event, body []byte) string {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], e.AppID)
	h.Write(n[:])
	h.Write([]byte(e.Command))
	h.Write([]byte{0})
	if e.Command == CommandSendMsgException && e.Present.Has(FieldRandom|FieldEventTime) {
		for _, s := range []string{e.GroupID, e.FromAccount} {
			binary.BigEndian.PutUint64(n[:], uint64(len(s)))
			h.Write(n[:])
			h.Write([]byte(s))
		}
		for _, v := range []int64{e.Random, e.ErrorCode, e.EventTime} {
			binary.BigEndian.PutUint64(n[:], uint64(v))
			h.Write(n[:])
		}
	} else {
		h.Write([]byte("body"))
		h.Write(bytes.TrimSpace(body))
	}
	sum := h.Sum(nil)
	return hex.EncodeToString(sum[:16])
}

// clipStrings cuts every decoded string field to max bytes.
func (e *Event) clipStrings(max int) {
	for _, s := range bodyStrs {
		p := s.str(e)
		*p = e.clip(*p, max)
	}
	for i := range e.MsgBody {
		e.MsgBody[i].Type = e.clip(e.MsgBody[i].Type, max)
		c := &e.MsgBody[i].Content
		for _, f := range contentStrings {
			p := f.field(c)
			*p = e.clip(*p, max)
		}
		for j := range c.AbstractList {
			c.AbstractList[j] = e.clip(c.AbstractList[j], max)
		}
		for j := range c.ImageInfo {
			c.ImageInfo[j].URL = e.clip(c.ImageInfo[j].URL, max)
		}
	}
}

func (e *Event) clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	e.Truncated = true
	return CutUTF8(s, max)
}

// clipRaw cuts a long JSON string value to max bytes of text; other values
// are kept as they are (the body size bounds them).
func (e *Event) clipRaw(raw json.RawMessage, max int) json.RawMessage {
	if len(raw) <= max || raw[0] != '"' {
		return raw
	}
	var s string
	if json.Unmarshal(raw, &s) != nil || len(s) <= max {
		return raw
	}
	out, err := json.Marshal(e.clip(s, max))
	if err != nil {
		return raw
	}
	return out
}

// CutUTF8 returns the longest prefix of s of at most n bytes that does not
// end inside a UTF-8 sequence.
func CutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	// s[n] is the first byte dropped; if it continues a sequence, drop
	// that sequence's first bytes too.
	i := n
	for i > 0 && i > n-utf8.UTFMax && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}
