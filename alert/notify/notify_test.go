package notify

import (
	"testing"
	"time"
)

// A destination's Retry-After is honoured up to an hour, never a day.
func TestClassifyCapsRetryAfter(t *testing.T) {
	for _, tt := range []struct{ asked, want time.Duration }{
		{7 * time.Second, 7 * time.Second},
		{24 * time.Hour, MaxRetryAfter},
	} {
		_, _, after := Classify(&DeliveryError{Retryable: true, Reason: "http_429", RetryAfter: tt.asked})
		if after != tt.want {
			t.Errorf("Retry-After %v: wait %v, want %v", tt.asked, after, tt.want)
		}
	}
}
