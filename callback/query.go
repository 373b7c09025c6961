package callback

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Query is the envelope IM sends in the URL query string of every callback.
type Query struct {
	AppID       uint64 // SdkAppid
	Command     string // CallbackCommand
	ContentType string // contenttype, lower-cased; IM sends "json" or "JSON"
	ClientIP    string
	OptPlatform string
	Sign        string // only with callback authentication on
	RequestTime string // decimal Unix seconds, exactly as received
}

// QueryError says which query parameter is missing or malformed.
type QueryError struct {
	Param string
	Msg   string
}

func (e *QueryError) Error() string {
	return "query parameter " + e.Param + ": " + e.Msg
}

// Bounds on query values: IM's are short, anything long is not IM.
const (
	maxCommandLen  = 128
	maxQueryValLen = 256
)

// The envelope's parameters, by their index in queryParams.
const (
	qpAppID = iota
	qpCommand
	qpContentType
	qpClientIP
	qpOptPlatform
	qpSign
	qpRequestTime
)

var queryParams = [...]string{qpAppID: "SdkAppid", qpCommand: "CallbackCommand", qpContentType: "contenttype",
	qpClientIP: "ClientIP", qpOptPlatform: "OptPlatform", qpSign: "Sign", qpRequestTime: "RequestTime"}

// ParseQuery reads the envelope from q. Parameter order and extra parameters
// are irrelevant; parameter names match case-insensitively, since IM's own
// documentation is inconsistent. A parameter given more than once, in any
// spelling, is refused: which value counts must not depend on who reads it.
func ParseQuery(q url.Values) (Query, error) {
	// One pass over the parameters, each matched against the names.
	var vals [len(queryParams)]string
	var count [len(queryParams)]int
	for k, v := range q {
		for i, name := range queryParams {
			if len(k) == len(name) && strings.EqualFold(k, name) {
				count[i] += len(v)
				if len(v) > 0 {
					vals[i] = v[0]
				}
			}
		}
	}
	for i, n := range count {
		if n > 1 {
			return Query{}, &QueryError{Param: queryParams[i], Msg: "given more than once"}
		}
	}
	var out Query
	app := vals[qpAppID]
	if app == "" {
		return out, &QueryError{Param: "SdkAppid", Msg: "missing"}
	}
	id, err := strconv.ParseUint(app, 10, 64)
	if err != nil || id == 0 {
		return out, &QueryError{Param: "SdkAppid", Msg: "not a positive decimal number"}
	}
	out.AppID = id
	out.Command = vals[qpCommand]
	if out.Command == "" {
		return out, &QueryError{Param: "CallbackCommand", Msg: "missing"}
	}
	if len(out.Command) > maxCommandLen || !validCommand(out.Command) {
		return out, &QueryError{Param: "CallbackCommand", Msg: "not a callback command name"}
	}
	out.ContentType = strings.ToLower(vals[qpContentType])
	if out.ContentType != "" && out.ContentType != "json" {
		return out, &QueryError{Param: "contenttype", Msg: fmt.Sprintf("unsupported value %q, want json", truncate(out.ContentType, 32))}
	}
	out.ClientIP = vals[qpClientIP]
	out.OptPlatform = vals[qpOptPlatform]
	out.Sign = vals[qpSign]
	out.RequestTime = vals[qpRequestTime]
	for _, p := range []struct{ name, v string }{
		{"ClientIP", out.ClientIP}, {"OptPlatform", out.OptPlatform},
		{"Sign", out.Sign}, {"RequestTime", out.RequestTime},
	} {
		if len(p.v) > maxQueryValLen {
			return out, &QueryError{Param: p.name, Msg: "too long"}
		}
	}
	return out, nil
}

// validCommand accepts names like "Group.CallbackSendMsgException": ASCII
// letters, digits, '.' and '_'. Anything else cannot be an IM command and
// must not reach logs or rules verbatim.
func validCommand(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_':
		default:
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
