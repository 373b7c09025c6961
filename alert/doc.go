// Package alert is the decision pipeline. The Pipeline runs journaled
// callbacks through the rules and decides each match (threshold, first
// seen, throttle), or counts it into the rule's digest, and writes the
// resulting notifications to the outbox in the transaction that marks the
// callbacks processed, together with the decision state they leave.
//
// Decisions are pure: decide(entry, now, rule) reads only the event's
// receive time and the key's entry in a state.Store, and returns the
// entry to keep, which the pipeline applies once the batch is committed.
// Delivery is package delivery's; integrations import only notify and
// page.
package alert
