package state

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The encoding of a KeyState at rest: a version byte, then a bit set of
// the fields present and the fields themselves as varints (times as Unix
// nanoseconds, UTC on decoding). It is several times smaller and cheaper
// than JSON, which earlier versions wrote; Unmarshal still reads it.
const version1 = 1

// Bits of the field set.
const (
	hasStart = 1 << iota
	hasEnd
	hasFirst
	hasLast
	isSeen
	hasWho // Who and Names follow the hits; states written before have neither
)

// Marshal encodes st compactly.
func Marshal(st KeyState) []byte {
	return AppendMarshal(make([]byte, 0, 48+10*len(st.Hits)), st)
}

// AppendMarshal appends the encoding of st to b.
func AppendMarshal(b []byte, st KeyState) []byte {
	var flags uint64
	for _, f := range []struct {
		t    time.Time
		flag uint64
	}{{st.Start, hasStart}, {st.End, hasEnd}, {st.First, hasFirst}, {st.Last, hasLast}} {
		if !f.t.IsZero() {
			flags |= f.flag
		}
	}
	if st.Seen {
		flags |= isSeen
	}
	if len(st.Who) > 0 || len(st.Names) > 0 {
		flags |= hasWho
	}
	b = append(b, version1)
	b = binary.AppendUvarint(b, flags)
	for _, t := range []time.Time{st.Start, st.End, st.First, st.Last} {
		if !t.IsZero() {
			b = binary.AppendVarint(b, t.UnixNano())
		}
	}
	b = binary.AppendVarint(b, int64(st.Window))
	b = binary.AppendUvarint(b, uint64(max(st.Suppressed, 0)))
	b = binary.AppendUvarint(b, uint64(len(st.Hits)))
	for _, h := range st.Hits {
		b = binary.AppendVarint(b, h.UnixNano())
	}
	if flags&hasWho != 0 {
		b = binary.AppendUvarint(b, uint64(len(st.Who)))
		for _, w := range st.Who {
			b = binary.AppendUvarint(b, uint64(w))
		}
		b = binary.AppendUvarint(b, uint64(len(st.Names)))
		for _, n := range st.Names {
			b = binary.AppendUvarint(b, uint64(len(n)))
			b = append(b, n...)
		}
	}
	return b
}

// errCorrupt reports encoded state that cannot be read.
var errCorrupt = errors.New("state: corrupt encoding")

// maxHits bounds the threshold matches a decoded state may hold: the
// largest threshold count a rule can sensibly have.
const maxHits = 1 << 16

// Unmarshal decodes what Marshal wrote, or the JSON of earlier versions.
func Unmarshal(data []byte) (KeyState, error) {
	var st KeyState
	if len(data) > 0 && data[0] == '{' {
		if err := json.Unmarshal(data, &st); err != nil {
			return KeyState{}, fmt.Errorf("state: legacy json: %w", err)
		}
		return st, nil
	}
	if len(data) == 0 || data[0] != version1 {
		return KeyState{}, fmt.Errorf("state: unknown encoding version: %w", errCorrupt)
	}
	r := reader{b: data[1:]}
	flags := r.uvarint()
	for _, f := range []struct {
		dst  *time.Time
		flag uint64
	}{{&st.Start, hasStart}, {&st.End, hasEnd}, {&st.First, hasFirst}, {&st.Last, hasLast}} {
		if flags&f.flag != 0 {
			*f.dst = r.time()
		}
	}
	st.Seen = flags&isSeen != 0
	st.Window = time.Duration(r.varint())
	st.Suppressed = int(min(r.uvarint(), 1<<31))
	n := r.uvarint()
	if n > maxHits {
		return KeyState{}, errCorrupt
	}
	if n > 0 {
		st.Hits = make([]time.Time, 0, n)
		for range n {
			st.Hits = append(st.Hits, r.time())
		}
	}
	if flags&hasWho != 0 && !r.who(&st) {
		return KeyState{}, errCorrupt
	}
	if r.err || len(r.b) != 0 {
		return KeyState{}, errCorrupt
	}
	return st, nil
}

// who reads the Who and Names that follow the hits, within their bounds.
func (r *reader) who(st *KeyState) bool {
	n := r.uvarint()
	if n > uint64(len(st.Hits)) {
		return false
	}
	if n > 0 {
		st.Who = make([]uint32, 0, n)
		for range n {
			w := r.uvarint()
			if w > 1<<32-1 {
				return false
			}
			st.Who = append(st.Who, uint32(w))
		}
	}
	n = r.uvarint()
	if n > MaxNames {
		return false
	}
	for range n {
		l := r.uvarint()
		if l > MaxNameBytes || l > uint64(len(r.b)) {
			return false
		}
		st.Names = append(st.Names, string(r.b[:l]))
		r.b = r.b[l:]
	}
	return !r.err
}

type reader struct {
	b   []byte
	err bool
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) time() time.Time { return time.Unix(0, r.varint()).UTC() }
