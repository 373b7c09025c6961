package callback

import "strconv"

// Severity levels, most severe first.
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// ValidSeverity reports whether s is one of the known severity levels.
func ValidSeverity(s string) bool {
	return s == SeverityCritical || s == SeverityWarning || s == SeverityInfo
}

// CodeInfo describes one IM error code.
type CodeInfo struct {
	Code     int64
	Meaning  string
	Severity string // default severity of a page about this code
}

// builtinCodes is the error-code table of Tencent's "Error Codes" page
// (doc 1047/34348), meanings paraphrased. Severities reflect what an
// operator loses: dropped messages are a warning, a dead backend is critical.
var builtinCodes = []CodeInfo{
	{10002, "internal server error; retry", SeverityCritical},
	{10003, "invalid command word in the request", SeverityWarning},
	{10004, "invalid parameter (see ErrorInfo)", SeverityWarning},
	{10005, "too many accounts in one request", SeverityWarning},
	{10006, "operation rate limit hit", SeverityWarning},
	{10007, "insufficient permission", SeverityWarning},
	{10009, "group owner may not leave", SeverityInfo},
	{10010, "group does not exist or was dismissed", SeverityWarning},
	{10011, "request JSON could not be parsed", SeverityWarning},
	{10012, "invalid operator UserID", SeverityWarning},
	{10013, "already a group member", SeverityInfo},
	{10014, "group is full", SeverityWarning},
	{10015, "invalid group ID", SeverityWarning},
	{10016, "rejected by the app backend's before-send callback", SeverityInfo},
	{10017, "sender is muted", SeverityInfo},
	{10018, "response would exceed 1 MB", SeverityWarning},
	{10019, "requested UserID does not exist", SeverityWarning},
	{10021, "group ID already in use", SeverityInfo},
	{10023, "message sending frequency over the limit", SeverityWarning},
	{10024, "invitation/application already handled", SeverityInfo},
	{10025, "group ID in use, and the operator owns it", SeverityInfo},
	{10026, "command word disabled for this SDKAppID", SeverityCritical},
	{10030, "message to recall does not exist", SeverityInfo},
	{10031, "recall time limit passed", SeverityInfo},
	{10032, "message cannot be recalled", SeverityInfo},
	{10033, "group type does not support recall", SeverityInfo},
	{10034, "message type cannot be deleted", SeverityInfo},
	{10035, "AV/broadcast groups do not support message deletion", SeverityInfo},
	{10036, "too many audio-video groups created", SeverityWarning},
	{10037, "per-user limit of groups created/joined exceeded", SeverityWarning},
	{10038, "group member count over the limit", SeverityWarning},
	{10041, "app forbids group message recall", SeverityInfo},
	{10044, "group type does not support roaming history", SeverityInfo},
	{10045, "custom attribute key over 32 bytes", SeverityWarning},
	{10046, "custom attribute value over 4,000 bytes", SeverityWarning},
	{10047, "more than 16 custom attribute keys", SeverityWarning},
	{10048, "custom attribute values over 16,000 bytes in total", SeverityWarning},
	{10049, "custom attribute writes rate-limited", SeverityWarning},
	{10050, "custom attribute to delete does not exist", SeverityInfo},
	{10051, "message deletion exceeds the maximum range", SeverityInfo},
	{10052, "no messages in the group to delete", SeverityInfo},
	{10053, "more than 30 @-mentions in a group message", SeverityInfo},
	{10054, "too many members; page the member list", SeverityInfo},
	{10056, "custom attribute write conflict; re-read and retry", SeverityInfo},
	{10058, "free edition limit of 100 groups exceeded", SeverityCritical},
	{10059, "feature requires the Ultimate edition", SeverityWarning},
	{10060, "group too large for read receipts", SeverityInfo},
	{10061, "online-only messages do not support read receipts", SeverityInfo},
	{10062, "read receipt does not exist", SeverityInfo},
	{10063, "more than 20 group-counter keys", SeverityWarning},
	{11000, "community feature not enabled", SeverityWarning},
	{80001, "text contains sensitive content; not delivered", SeverityWarning},
	{80002, "message too long", SeverityWarning},
	{80003, "before-send callback failed or timed out, policy is to block", SeverityCritical},
	{80004, "image contains sensitive content; not delivered", SeverityWarning},
}

// App-defined codes returned by a before-send callback.
const (
	appCodeMin = 10100
	appCodeMax = 10200
)

// Catalogue maps IM error codes to their meaning and default severity.
// The zero value is empty; use NewCatalogue for the built-in table.
type Catalogue struct {
	codes map[int64]CodeInfo
}

// NewCatalogue returns the built-in catalogue with overrides applied on top;
// an override replaces the built-in entry of the same code.
func NewCatalogue(overrides ...CodeInfo) *Catalogue {
	c := &Catalogue{codes: make(map[int64]CodeInfo, len(builtinCodes)+len(overrides))}
	for _, ci := range builtinCodes {
		c.codes[ci.Code] = ci
	}
	for _, ci := range overrides {
		base, ok := c.codes[ci.Code]
		if !ok {
			base, _ = c.Lookup(ci.Code) // an app code's or the generic entry
		}
		if ci.Meaning == "" {
			ci.Meaning = base.Meaning
		}
		if ci.Severity == "" {
			ci.Severity = base.Severity
		}
		c.codes[ci.Code] = ci
	}
	return c
}

// Lookup returns what is known about code. Unknown codes get a generic
// meaning and warning severity, and ok false.
func (c *Catalogue) Lookup(code int64) (info CodeInfo, ok bool) {
	if c != nil {
		if info, ok = c.codes[code]; ok {
			return info, true
		}
	}
	if code >= appCodeMin && code <= appCodeMax {
		return CodeInfo{Code: code, Meaning: "custom code from the app backend's before-send callback", Severity: SeverityInfo}, true
	}
	return CodeInfo{Code: code, Meaning: "unknown error code " + strconv.FormatInt(code, 10), Severity: SeverityWarning}, false
}

// Meaning is Lookup(code).Meaning.
func (c *Catalogue) Meaning(code int64) string {
	info, _ := c.Lookup(code)
	return info.Meaning
}
