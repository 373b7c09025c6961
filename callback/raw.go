package callback

import (
	"net/url"
	"strings"
	"time"
)

// Raw is a callback exactly as it was received. The journal keeps it in this
// form so that a replay parses it again with the parser of the day, not with
// whatever the parser made of it when it arrived.
type Raw struct {
	Query      string // the request URL's raw query string
	Body       []byte
	ReceivedAt time.Time
	// DedupKey is the de-duplication key the receiver gave the callback
	// ("" for none). The journal keeps it so that a restart restores the
	// keys of recent callbacks without parsing them again.
	DedupKey string
}

// Envelope parses r's query.
func (r Raw) Envelope() (Query, error) {
	// As url.URL.Query does for the live request: malformed pairs are
	// dropped, the rest is kept.
	vals, _ := url.ParseQuery(r.Query)
	return ParseQuery(vals)
}

// Parse parses r's query and body, and stamps the event with ReceivedAt.
func (r Raw) Parse(lim Limits) (*Event, error) {
	q, err := r.Envelope()
	if err != nil {
		return nil, err
	}
	ev, err := Parse(q, r.Body, lim)
	if err != nil {
		return nil, err
	}
	ev.ReceivedAt = r.ReceivedAt
	return ev, nil
}

// WithoutSign returns the raw query rawQuery without its Sign parameter,
// the rest as it was. The signature has done its work once the callback
// is admitted, and for as long as IM's clock tolerance allows it is a
// credential: the journal keeps the query without it.
func WithoutSign(rawQuery string) string {
	if !strings.Contains(rawQuery, "ign") && !strings.Contains(rawQuery, "%") {
		return rawQuery // no Sign, even escaped: no copy
	}
	var b strings.Builder
	b.Grow(len(rawQuery))
	first := true
	for part := range strings.SplitSeq(rawQuery, "&") {
		key, _, _ := strings.Cut(part, "=")
		if key == "Sign" || (strings.ContainsAny(key, "%+") && unescaped(key) == "Sign") {
			continue
		}
		if !first {
			b.WriteByte('&')
		}
		first = false
		b.WriteString(part)
	}
	return b.String()
}

func unescaped(s string) string {
	u, err := url.QueryUnescape(s)
	if err != nil {
		return s
	}
	return u
}
