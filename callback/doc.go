// Package callback implements the wire format of Tencent Cloud IM third-party
// callbacks: the query envelope, the request signature, the event model and the
// catalogue of IM error codes. It imports no other imalert package.
package callback
