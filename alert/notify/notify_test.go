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

// IDs are distinct, and one made in a later millisecond sorts after.
func TestNewIDOrder(t *testing.T) {
	seen := map[string]bool{}
	prev := NewID()
	for range 5 {
		time.Sleep(2 * time.Millisecond)
		for range 1000 {
			id := NewID()
			if len(id) != 24 || seen[id] {
				t.Fatalf("id %q: length %d, seen before %v", id, len(id), seen[id])
			}
			seen[id] = true
		}
		next := NewID()
		if next <= prev {
			t.Errorf("%s made after %s sorts before it", next, prev)
		}
		prev = next
	}
}
