// Package callback implements the wire format of Tencent Cloud IM third-party
// callbacks: the query envelope, the request signature, the event model and the
// catalogue of IM error codes. It imports no other imalert package but the
// shared body limits (internal/bodylimit).
//
// The fields an Event exposes are described once, in the table behind
// FieldSpecs: wire name, rule-file aliases, kind, and how to read the field.
// The body decoder, text clipping, Event.Field and the rule compiler all
// work from it. Which body fields each documented command carries is
// generated from IM's documented sample bodies (documented.go).
package callback
