package callback

import (
	"net/url"
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
