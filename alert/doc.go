// Package alert turns journaled callbacks into notifications and delivers
// them. The Pipeline decides what to send (throttling repeats and counting
// what it suppresses, or summing a rule's events into a digest) and writes
// each decision to the outbox in the transaction that marks its callback
// processed. The Dispatcher delivers the outbox through one queue per
// receiver: merging what piles up, pacing, retrying with backoff, falling
// back, and dead-lettering what cannot be delivered. It knows nothing of
// HTTP; each kind of receiver lives in a subpackage that implements
// Notifier.
package alert
