package callback

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test vector of Tencent's callback authentication documentation.
const (
	vectorToken = "xxxxyyyy"
	vectorTime  = "1669872112"
	vectorSign  = "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061"
)

func TestSignVector(t *testing.T) {
	if got := Sign(vectorToken, vectorTime); got != vectorSign {
		t.Errorf("Sign(%q, %q) = %s, want %s", vectorToken, vectorTime, got, vectorSign)
	}
	// The older documentation's token "xxxyyy" is a typo: it does not
	// reproduce the printed signature.
	if Sign("xxxyyy", vectorTime) == vectorSign {
		t.Error("the typo token reproduces the vector")
	}
}

func TestVerify(t *testing.T) {
	at := time.Unix(1669872112, 0)
	v := NewVerifier([]string{"", "new-token", vectorToken, ""}, time.Minute)
	tests := []struct {
		name       string
		now        time.Time
		sign, time string
		want       AuthReason
	}{
		{"documented vector", at, vectorSign, vectorTime, AuthOK},
		{"second (rotated) token", at, Sign("new-token", vectorTime), vectorTime, AuthOK},
		{"upper-case hex", at, strings.ToUpper(vectorSign), vectorTime, AuthOK},
		{"59.999s late is fresh", at.Add(60*time.Second - time.Millisecond), vectorSign, vectorTime, AuthOK},
		{"59.999s early is fresh", at.Add(-60*time.Second + time.Millisecond), vectorSign, vectorTime, AuthOK},
		{"60s late is stale", at.Add(60 * time.Second), vectorSign, vectorTime, AuthStale},
		{"60s early is future", at.Add(-60 * time.Second), vectorSign, vectorTime, AuthFuture},
		{"60.9s late is stale", at.Add(60*time.Second + 900*time.Millisecond), vectorSign, vectorTime, AuthStale},
		{"missing sign", at, "", vectorTime, AuthMissingSign},
		{"missing time", at, vectorSign, "", AuthMissingTime},
		{"forged sign", at, Sign("guess", vectorTime), vectorTime, AuthMismatch},
		{"zero sign", at, strings.Repeat("0", 64), vectorTime, AuthMismatch},
		{"sign of the empty token", at, Sign("", vectorTime), vectorTime, AuthMismatch},
		{"sign for another time", at, Sign(vectorToken, "1669872113"), vectorTime, AuthMismatch},
		{"wrong sign and stale", at.Add(time.Hour), Sign("guess", vectorTime), vectorTime, AuthMismatch},
		{"short sign", at, vectorSign[:63], vectorTime, AuthMalformedSign},
		{"long sign", at, vectorSign + "0", vectorTime, AuthMalformedSign},
		{"non-hex sign", at, "g" + vectorSign[1:], vectorTime, AuthMalformedSign},
		{"non-numeric time", at, vectorSign, "yesterday", AuthMalformedTime},
		{"negative time", at, Sign(vectorToken, "-1"), "-1", AuthMalformedTime},
		{"time with sign", at, Sign(vectorToken, "+1669872112"), "+1669872112", AuthMalformedTime},
		{"time in exponent form", at, vectorSign, "1.669872112e9", AuthMalformedTime},
		{"time in milliseconds", at, Sign(vectorToken, "1669872112000"), "1669872112000", AuthFuture},
		{"huge time", at, vectorSign, strings.Repeat("9", 40), AuthMalformedTime},
		{"time with spaces", at, vectorSign, " 1669872112", AuthMalformedTime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := v.Verify(tt.now, tt.sign, tt.time); got != tt.want {
				t.Errorf("Verify = %s, want %s", got, tt.want)
			}
		})
	}
}

// Empty tokens never verify anything: SHA-256 of "" plus a time is public.
func TestVerifyEmptyTokens(t *testing.T) {
	at := time.Unix(1669872112, 0)
	for _, tokens := range [][]string{nil, {}, {""}, {"", ""}} {
		v := NewVerifier(tokens, time.Minute)
		if got := v.Verify(at, Sign("", vectorTime), vectorTime); got != AuthNoTokens {
			t.Errorf("tokens %q: Verify = %s, want %s", tokens, got, AuthNoTokens)
		}
	}
}

func FuzzVerify(f *testing.F) {
	f.Add(vectorToken, vectorTime, vectorSign, int64(0))
	f.Add("", vectorTime, Sign("", vectorTime), int64(0))
	f.Add("t", "0", Sign("t", "0"), int64(-61))
	f.Add("t", "99999999999999999", Sign("t", "99999999999999999"), int64(1))
	f.Add("tok", "12", strings.Repeat("0", 64), int64(60))
	f.Fuzz(func(t *testing.T, token, requestTime, sign string, skew int64) {
		const window = time.Minute
		v := NewVerifier([]string{token}, window)
		base, _ := strconv.ParseInt(requestTime, 10, 64)
		skew %= 1 << 40
		now := time.Unix(base+skew, 0)
		got := v.Verify(now, sign, requestTime)
		if got == AuthOK {
			if token == "" {
				t.Fatal("accepted with an empty token")
			}
			raw, err := hex.DecodeString(sign)
			want := sha256.Sum256([]byte(token + requestTime))
			if err != nil || string(raw) != string(want[:]) {
				t.Fatalf("accepted a sign that is not SHA-256(token+time)")
			}
			if skew > 60 || skew < -60 {
				t.Fatalf("accepted a time %ds away", skew)
			}
		}
		// The genuine signature of a well-formed time always verifies when
		// the clocks agree.
		if token != "" && requestTime != "" && len(requestTime) <= maxRequestTimeLen && allDigits(requestTime) {
			if r := v.Verify(time.Unix(base, 0), Sign(token, requestTime), requestTime); r != AuthOK {
				t.Fatalf("genuine signature rejected: %s", r)
			}
		}
	})
}
