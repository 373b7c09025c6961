package callback

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strconv"
	"time"
)

// Sign returns the signature IM sends with callback authentication on:
// lowercase hex SHA-256 of the token followed by RequestTime, exactly as
// sent (decimal Unix seconds).
func Sign(token, requestTime string) string {
	sum := sha256.Sum256([]byte(token + requestTime))
	return hex.EncodeToString(sum[:])
}

// AuthReason names the outcome of a signature check; tests, logs, metrics
// and the FAIL answer share it.
type AuthReason string

// Signature check outcomes.
const (
	AuthOK            AuthReason = "ok"
	AuthMissingSign   AuthReason = "sign_missing"         // no Sign parameter
	AuthMissingTime   AuthReason = "request_time_missing" // no RequestTime parameter
	AuthMalformedSign AuthReason = "sign_malformed"       // not 64 hex digits
	AuthMalformedTime AuthReason = "request_time_invalid" // not decimal seconds
	AuthStale         AuthReason = "request_time_stale"   // older than the window
	AuthFuture        AuthReason = "request_time_future"  // later than the window
	AuthMismatch      AuthReason = "sign_mismatch"        // no token produces Sign
	AuthNoTokens      AuthReason = "no_tokens_configured" // never valid; a config bug
)

// maxRequestTimeLen bounds RequestTime far beyond any real clock, so parsing
// never sees a huge number.
const maxRequestTimeLen = 17

// Verifier checks callback signatures for one app against its tokens, any
// of which may have signed (tokens rotate). It is immutable.
type Verifier struct {
	tokens [][]byte
	window time.Duration
}

// NewVerifier returns a Verifier for tokens, accepting a RequestTime at most
// window away from now in either direction. Empty tokens are dropped: the
// SHA-256 of "" plus a time is computable by anyone.
func NewVerifier(tokens []string, window time.Duration) *Verifier {
	v := &Verifier{window: window}
	for _, t := range tokens {
		if t != "" {
			v.tokens = append(v.tokens, []byte(t))
		}
	}
	return v
}

// Verify checks sign and requestTime, as received in the query, at time now.
// Every token is tried whatever the outcome of the others, and digests are
// compared in constant time, so timing says nothing about which token (if
// any) nearly matched.
func (v *Verifier) Verify(now time.Time, sign, requestTime string) AuthReason {
	if sign == "" {
		return AuthMissingSign
	}
	if requestTime == "" {
		return AuthMissingTime
	}
	var got [sha256.Size]byte
	if len(sign) != hex.EncodedLen(sha256.Size) {
		return AuthMalformedSign
	}
	if _, err := hex.Decode(got[:], []byte(sign)); err != nil {
		return AuthMalformedSign
	}
	if len(requestTime) > maxRequestTimeLen || !allDigits(requestTime) {
		return AuthMalformedTime
	}
	secs, err := strconv.ParseInt(requestTime, 10, 64)
	if err != nil {
		return AuthMalformedTime
	}
	if len(v.tokens) == 0 {
		return AuthNoTokens
	}
	match := 0
	buf := make([]byte, 0, 64+len(requestTime))
	for _, t := range v.tokens {
		buf = append(append(buf[:0], t...), requestTime...)
		want := sha256.Sum256(buf)
		match |= subtle.ConstantTimeCompare(want[:], got[:])
	}
	if match != 1 {
		return AuthMismatch
	}
	// Freshness is judged only for a correct signature, so an attacker
	// cannot probe the clock without a token.
	//
	// The window is open, measured to the nanosecond: a request is fresh
	// while |now - RequestTime| < window. With de-duplication at least
	// twice the window, the first sighting of a request is then remembered
	// for as long as a replay of it can pass this check.
	skew := now.Sub(time.Unix(secs, 0))
	switch {
	case skew >= v.window:
		return AuthStale
	case skew <= -v.window:
		return AuthFuture
	}
	return AuthOK
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
