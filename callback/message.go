package callback

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Message element types (MsgBody[].MsgType).
const (
	ElemText     = "TIMTextElem"
	ElemLocation = "TIMLocationElem"
	ElemFace     = "TIMFaceElem"
	ElemCustom   = "TIMCustomElem"
	ElemSound    = "TIMSoundElem"
	ElemImage    = "TIMImageElem"
	ElemFile     = "TIMFileElem"
	ElemVideo    = "TIMVideoFileElem"
	ElemRelay    = "TIMRelayElem"
)

// MsgElement is one element of a message body. Content holds the fields of
// every documented element type; Raw keeps MsgContent exactly as received, so
// unknown element types and fields are not lost.
type MsgElement struct {
	Type    string
	Content MsgContent
	Raw     json.RawMessage
}

// MsgContent is the union of the documented MsgContent fields of all element
// types. Which fields are set depends on the element type.
type MsgContent struct {
	Text string `json:"Text"` // TIMTextElem

	Desc      string    `json:"Desc"` // TIMLocationElem, TIMCustomElem
	Latitude  flexFloat `json:"Latitude"`
	Longitude flexFloat `json:"Longitude"`

	Index flexInt `json:"Index"` // TIMFaceElem
	Data  string  `json:"Data"`  // TIMFaceElem, TIMCustomElem
	Ext   string  `json:"Ext"`   // TIMCustomElem
	Sound string  `json:"Sound"` // TIMCustomElem

	URL          string      `json:"Url"` // TIMSoundElem, TIMFileElem
	UUID         string      `json:"UUID"`
	Size         flexInt     `json:"Size"`
	Second       flexInt     `json:"Second"`
	DownloadFlag flexInt     `json:"Download_Flag"`
	ImageFormat  flexInt     `json:"ImageFormat"` // TIMImageElem
	ImageInfo    []ImageInfo `json:"ImageInfoArray"`
	FileSize     flexInt     `json:"FileSize"` // TIMFileElem
	FileName     string      `json:"FileName"`

	VideoURL    string  `json:"VideoUrl"` // TIMVideoFileElem
	VideoUUID   string  `json:"VideoUUID"`
	VideoSize   flexInt `json:"VideoSize"`
	VideoSecond flexInt `json:"VideoSecond"`
	VideoFormat string  `json:"VideoFormat"`
	ThumbURL    string  `json:"ThumbUrl"`
	ThumbUUID   string  `json:"ThumbUUID"`
	ThumbSize   flexInt `json:"ThumbSize"`
	ThumbWidth  flexInt `json:"ThumbWidth"`
	ThumbHeight flexInt `json:"ThumbHeight"`
	ThumbFormat string  `json:"ThumbFormat"`

	Title          string            `json:"Title"` // TIMRelayElem
	MsgNum         flexInt           `json:"MsgNum"`
	CompatibleText string            `json:"CompatibleText"`
	AbstractList   []string          `json:"AbstractList"`
	MsgList        []json.RawMessage `json:"MsgList"`
	JSONMsgKey     string            `json:"JsonMsgKey"`
}

// ImageInfo is one rendition of an image element.
type ImageInfo struct {
	Type   flexInt `json:"Type"`
	Size   flexInt `json:"Size"`
	Width  flexInt `json:"Width"`
	Height flexInt `json:"Height"`
	URL    string  `json:"URL"`
}

// splitElement reads an element's MsgType and MsgContent. Names match as
// encoding/json matches them: exactly, or else ignoring case. Content is
// copied out of the body.
func splitElement(w []byte) (typ string, content json.RawMessage, err error) {
	var rawType, rawContent []byte
	exactType, exactContent := false, false
	err = members(w, func(name string, raw []byte) {
		switch {
		case name == "MsgType":
			rawType, exactType = raw, true
		case name == "MsgContent":
			rawContent, exactContent = raw, true
		case !exactType && strings.EqualFold(name, "MsgType"):
			rawType = raw
		case !exactContent && strings.EqualFold(name, "MsgContent"):
			rawContent = raw
		}
	})
	if err != nil {
		return "", nil, errors.New(jsonErrText(err))
	}
	if rawType == nil || isNull(rawType) {
		return "", nil, errors.New("MsgType missing")
	}
	if err := decodeString(rawType, &typ); err != nil {
		return "", nil, fmt.Errorf("MsgType: %v", err)
	}
	if rawContent != nil {
		content = bytes.Clone(rawContent)
	}
	return typ, content, nil
}

// decodeMsgBody decodes the message elements. Elements beyond
// lim.MaxElements, or nested deeper than lim.MaxDepth, are left out and
// counted; a null element is absent.
func (ev *Event) decodeMsgBody(raw json.RawMessage, lim Limits) ([]MsgElement, error) {
	if isEmpty(raw) {
		return []MsgElement{}, nil
	}
	if len(raw) == 0 || raw[0] != '[' {
		return nil, fmt.Errorf("want an array, got %s", jsonKind(raw))
	}
	var wire [][]byte
	if err := elements(raw, func(e []byte) { wire = append(wire, e) }); err != nil {
		return nil, fmt.Errorf("%s", jsonErrText(err))
	}
	out := make([]MsgElement, 0, min(len(wire), lim.MaxElements))
	left := 0
	for i, w := range wire {
		if isNull(w) {
			continue
		}
		if len(out) == lim.MaxElements {
			left++
			continue
		}
		if len(w) == 0 || w[0] != '{' {
			return nil, fmt.Errorf("element %d: want an object, got %s", i, jsonKind(w))
		}
		if checkDepth(w, lim.MaxDepth-2) != nil {
			left++
			continue
		}
		typ, content, err := splitElement(w)
		if err != nil {
			return nil, fmt.Errorf("element %d: %s", i, err)
		}
		el := MsgElement{Type: typ, Raw: content}
		if err := el.decodeContent(); err != nil {
			return nil, fmt.Errorf("element %d: MsgContent: %w", i, err)
		}
		out = append(out, el)
	}
	ev.LeftOut.Elements += left
	return out, nil
}

// elemFields are the MsgContent fields IM documents for each element type.
// Only these must have their documented type: the content of an element
// type imalert does not know, or a field its type does not document, is
// kept in Raw and read where it can be, never a reason to refuse a
// callback.
var elemFields = map[string][]string{
	ElemText:     {"Text"},
	ElemLocation: {"Desc", "Latitude", "Longitude"},
	ElemFace:     {"Index", "Data"},
	ElemCustom:   {"Data", "Desc", "Ext", "Sound"},
	ElemSound:    {"Url", "UUID", "Size", "Second", "Download_Flag"},
	ElemImage:    {"UUID", "ImageFormat", "ImageInfoArray"},
	ElemFile:     {"Url", "UUID", "FileSize", "FileName", "Download_Flag"},
	ElemVideo:    {"VideoUrl", "VideoUUID", "VideoSize", "VideoSecond", "VideoFormat"},
	ElemRelay:    {"Title", "MsgNum", "CompatibleText", "AbstractList", "MsgList", "JsonMsgKey"},
}

// decodeContent decodes Raw into Content.
func (m *MsgElement) decodeContent() error {
	raw := m.Raw
	own, known := elemFields[m.Type]
	if len(raw) == 0 || isNull(raw) || isEmpty(raw) {
		return nil
	}
	if raw[0] != '{' {
		if !known {
			return nil
		}
		return fmt.Errorf("want an object, got %s", jsonKind(raw))
	}
	if plainContent(raw, &m.Content) {
		return nil
	}
	m.Content = MsgContent{}
	err := json.Unmarshal(raw, &m.Content)
	if err == nil {
		return nil
	}
	// Some field did not decode: read the content field by field, and
	// refuse it only for a field of the element's own type.
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return errors.New(jsonErrText(err))
	}
	m.Content = MsgContent{}
	for name, v := range fields {
		if isEmpty(v) {
			continue // {} for an empty list, or [] for an empty object
		}
		key, _ := json.Marshal(name)
		one := append(append(append([]byte("{"), key...), ':'), v...)
		one = append(one, '}')
		if ferr := json.Unmarshal(one, &m.Content); ferr != nil && slices.Contains(own, name) {
			return fmt.Errorf("%s: %s", name, jsonErrText(ferr))
		}
	}
	return nil
}

// contentStrings are MsgContent's string fields with their wire names:
// the fast decoder reads them, and clipping cuts them.
var contentStrings = [...]struct {
	name  string
	field func(*MsgContent) *string
}{
	{"Text", func(c *MsgContent) *string { return &c.Text }}, {"Desc", func(c *MsgContent) *string { return &c.Desc }},
	{"Data", func(c *MsgContent) *string { return &c.Data }}, {"Ext", func(c *MsgContent) *string { return &c.Ext }},
	{"Sound", func(c *MsgContent) *string { return &c.Sound }}, {"Url", func(c *MsgContent) *string { return &c.URL }},
	{"UUID", func(c *MsgContent) *string { return &c.UUID }}, {"FileName", func(c *MsgContent) *string { return &c.FileName }},
	{"VideoUrl", func(c *MsgContent) *string { return &c.VideoURL }}, {"VideoUUID", func(c *MsgContent) *string { return &c.VideoUUID }},
	{"VideoFormat", func(c *MsgContent) *string { return &c.VideoFormat }}, {"ThumbUrl", func(c *MsgContent) *string { return &c.ThumbURL }},
	{"ThumbUUID", func(c *MsgContent) *string { return &c.ThumbUUID }}, {"ThumbFormat", func(c *MsgContent) *string { return &c.ThumbFormat }},
	{"Title", func(c *MsgContent) *string { return &c.Title }}, {"CompatibleText", func(c *MsgContent) *string { return &c.CompatibleText }},
	{"JsonMsgKey", func(c *MsgContent) *string { return &c.JSONMsgKey }},
}

// contentStringByName indexes contentStrings by wire name.
var contentStringByName = func() map[string]func(*MsgContent) *string {
	m := make(map[string]func(*MsgContent) *string, len(contentStrings))
	for _, f := range contentStrings {
		m[f.name] = f.field
	}
	return m
}()

// plainContent decodes raw into c without reflection when every member
// is a string field holding a plain string, as text and custom elements
// do; otherwise it reports false and encoding/json decodes raw.
func plainContent(raw []byte, c *MsgContent) bool {
	ok := true
	err := members(raw, func(name string, v []byte) {
		field := contentStringByName[name]
		if field == nil || !plainString(v) {
			ok = false
			return
		}
		if ok {
			*field(c) = string(v[1 : len(v)-1])
		}
	})
	return err == nil && ok
}

// Summary is a one-line, human description of the element: its text for a
// text element, a bracketed label for anything else. The result is raw
// end-user content and must be escaped by whoever displays it.
func (m *MsgElement) Summary() string {
	c := &m.Content
	switch m.Type {
	case ElemText:
		return c.Text
	case ElemLocation:
		return labelled("location", c.Desc)
	case ElemFace:
		return labelled("face", strconv.FormatInt(int64(c.Index), 10))
	case ElemCustom:
		return labelled("custom", firstNonEmpty(c.Desc, c.Data))
	case ElemSound:
		return labelled("sound", strconv.FormatInt(int64(c.Second), 10)+"s")
	case ElemImage:
		return "[image]"
	case ElemFile:
		return labelled("file", c.FileName)
	case ElemVideo:
		return labelled("video", strconv.FormatInt(int64(c.VideoSecond), 10)+"s")
	case ElemRelay:
		return labelled("forwarded", firstNonEmpty(c.Title, c.CompatibleText))
	default:
		return labelled(m.Type, "")
	}
}

// Excerpt joins the summaries of all elements of the message.
func (e *Event) Excerpt() string {
	parts := make([]string, 0, len(e.MsgBody))
	for i := range e.MsgBody {
		if s := e.MsgBody[i].Summary(); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ")
}

func labelled(kind, detail string) string {
	if detail == "" {
		return "[" + kind + "]"
	}
	return "[" + kind + ": " + detail + "]"
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// flexInt decodes a JSON integer or a decimal string.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	n, err := decodeInt(b)
	if err != nil {
		return err
	}
	*f = flexInt(n)
	return nil
}

// flexFloat decodes a JSON number or a decimal string.
type flexFloat float64

func (f *flexFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("want a number, got %s", jsonKind(b))
	}
	*f = flexFloat(v)
	return nil
}
