// Package alert turns rule matches into notifications: it decides what to
// send (throttling repeats, counting what it suppresses) and delivers each
// notification through its receiver's queue with retries. It knows nothing
// of HTTP; each kind of receiver lives in a subpackage that implements
// Notifier.
package alert
