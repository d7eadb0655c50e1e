package ingest

import (
	"bytes"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/auditgraph/auditgraph/audit"
)

// decodeWire fills w from one line holding a flat JSON object, as
// encoding/json would fill a struct of wireKeys' keys with
// DisallowUnknownFields (but refusing a repeated key), much faster:
// ingest spends most of its Go time here. A line is one object of known keys
// whose values are strings, booleans, a number or null, so a small scanner
// suffices. On failure it returns the key concerned (if any) and the reason.
// The fuzz test FuzzDecodeWire checks it against encoding/json.
func decodeWire(b []byte, w *wire) (field, reason string, ok bool) {
	d := decoder{b: b}
	d.ws()
	if d.lit("null") { // like encoding/json: no keys at all
		return d.end()
	}
	if !d.eat('{') {
		return "", "not a JSON object", false
	}
	d.ws()
	if d.eat('}') {
		return d.end()
	}
	// seen holds a bit per key of wireKeys already on the line: a repeated
	// key is refused, since a reported event must mean one thing (encoding/json
	// would keep the last value).
	var seen uint32
	for {
		d.ws()
		key, k, ok := d.key()
		if !ok {
			return "", "not valid JSON: " + d.err, false
		}
		if k >= 0 {
			if seen&(1<<k) != 0 {
				return wireKeys[k], "repeated key: a line holds each key at most once", false
			}
			seen |= 1 << k
		}
		d.ws()
		if !d.eat(':') {
			return "", "not valid JSON: expected ':' after a key", false
		}
		d.ws()
		if f, r, ok := d.value(k, key, w); !ok {
			return f, r, false
		}
		d.ws()
		if d.eat('}') {
			return d.end()
		}
		if !d.eat(',') {
			return "", "not valid JSON: expected ',' or '}' after a value", false
		}
	}
}

type decoder struct {
	b   []byte
	i   int
	err string
}

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) eat(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// end accepts only whitespace after the object.
func (d *decoder) end() (string, string, bool) {
	d.ws()
	if d.i != len(d.b) {
		return "", "more than one JSON value on the line", false
	}
	return "", "", true
}

// key scans a key and returns its index in wireKeys, or -1 and the key
// itself when it is not one of them. A known key without escapes, the usual
// case, is matched without allocating.
func (d *decoder) key() (unknown string, k int, ok bool) {
	if d.i < len(d.b) && d.b[d.i] == '"' {
		if end := bytes.IndexByte(d.b[d.i+1:], '"'); end >= 0 {
			raw := d.b[d.i+1 : d.i+1+end]
			if bytes.IndexByte(raw, '\\') < 0 {
				if k := keyIndex(raw); k >= 0 {
					d.i += end + 2
					return "", k, true
				}
			}
		}
	}
	s, ok := d.str()
	if !ok {
		return "", -1, false
	}
	if k := keyIndex([]byte(s)); k >= 0 {
		return "", k, true
	}
	return s, -1, true
}

// value reads the value of the key wireKeys[k] into w; k is -1 for the
// unknown key named by unknown.
func (d *decoder) value(k int, unknown string, w *wire) (field, reason string, ok bool) {
	if d.i >= len(d.b) {
		return "", "not a complete JSON object", false
	}
	c := d.b[d.i]
	if c == 'n' {
		if !d.lit("null") {
			return "", "not valid JSON: " + d.err, false
		}
		// null leaves a key unset, as encoding/json does for pointers, but an
		// unknown key is refused whatever its value.
		if k < 0 {
			return unknown, "unknown key", false
		}
		w.set &^= 1 << k
		w.text[k] = ""
		return "", "", true
	}
	switch {
	case k < 0:
		return unknown, "unknown key", false
	case k == keyResponseCode:
		start := d.i
		switch {
		case c == '"':
			if _, ok := d.str(); !ok {
				return "", "not valid JSON: " + d.err, false
			}
		case c == 't':
			if !d.lit("true") {
				return "", "not valid JSON: " + d.err, false
			}
		case c == 'f':
			if !d.lit("false") {
				return "", "not valid JSON: " + d.err, false
			}
		case c == '-' || ('0' <= c && c <= '9'):
			if !d.num() {
				return "", "not valid JSON: " + d.err, false
			}
		default:
			return wireKeys[k], "wrong type: want a number", false
		}
		w.text[k] = string(d.b[start:d.i])
	case k == keyProjectPublic || k == keyOrgScoped:
		var v bool
		switch {
		case d.lit("true"):
			v = true
		case d.lit("false"):
		default:
			return wireKeys[k], "wrong type: want true or false", false
		}
		if k == keyProjectPublic {
			w.projectPublic = v
		} else {
			w.orgScoped = v
		}
	default:
		if c != '"' {
			return wireKeys[k], "wrong type: want a string", false
		}
		s, ok := d.str()
		if !ok {
			return "", "not valid JSON: " + d.err, false
		}
		w.text[k] = s
	}
	w.set |= 1 << k
	return "", "", true
}

func (d *decoder) lit(word string) bool {
	if len(d.b)-d.i >= len(word) && string(d.b[d.i:d.i+len(word)]) == word {
		d.i += len(word)
		return true
	}
	d.err = "invalid literal"
	return false
}

// num scans a JSON number.
func (d *decoder) num() bool {
	start := d.i
	d.eat('-')
	switch {
	case d.eat('0'):
	case d.i < len(d.b) && '1' <= d.b[d.i] && d.b[d.i] <= '9':
		d.digits()
	default:
		d.err = "invalid number"
		return false
	}
	if d.eat('.') {
		if d.digits() == 0 {
			d.err = "invalid number"
			return false
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if !d.eat('+') {
			d.eat('-')
		}
		if d.digits() == 0 {
			d.err = "invalid number"
			return false
		}
	}
	return d.i > start
}

func (d *decoder) digits() int {
	n := 0
	for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
		d.i++
		n++
	}
	return n
}

// str scans a JSON string and returns its value.
func (d *decoder) str() (string, bool) {
	if !d.eat('"') {
		d.err = "expected a string"
		return "", false
	}
	start := d.i
	// Fast path: no escapes.
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c == '"' {
			s := string(d.b[start:d.i])
			d.i++
			return s, true
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			d.err = "control character in string"
			return "", false
		}
		d.i++
	}
	out := append([]byte(nil), d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return string(out), true
		case c < 0x20:
			d.err = "control character in string"
			return "", false
		case c != '\\':
			out = append(out, c)
			d.i++
			continue
		}
		d.i++
		if d.i >= len(d.b) {
			break
		}
		e := d.b[d.i]
		d.i++
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", false
			}
			if utf16.IsSurrogate(r) {
				// A high surrogate followed by a low one is one character;
				// anything else is replaced, as encoding/json does.
				save := d.i
				if d.eat('\\') && d.eat('u') {
					if r2, ok := d.hex4(); ok {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							out = utf8.AppendRune(out, dec)
							continue
						}
					}
				}
				d.i = save
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default:
			d.err = "invalid escape in string"
			return "", false
		}
	}
	d.err = "unterminated string"
	return "", false
}

func (d *decoder) hex4() (rune, bool) {
	if len(d.b)-d.i < 4 {
		d.err = "invalid \\u escape"
		return 0, false
	}
	v, err := strconv.ParseUint(string(d.b[d.i:d.i+4]), 16, 32)
	if err != nil {
		d.err = "invalid \\u escape"
		return 0, false
	}
	d.i += 4
	return rune(v), true
}

// wireKeys are the keys a line may hold: the client's id, the documented
// keys (audit.Specs, so that wireKeys[1+i] is audit.Keys[i]), then the two
// context keys.
var wireKeys = slices.Concat([]string{"id"}, func() []string {
	ks := make([]string, audit.NumKeys)
	for i, k := range audit.Keys {
		ks[i] = string(k)
	}
	return ks
}(), []string{"project_public", "org_scoped"})

// numWireKeys is len(wireKeys).
const numWireKeys = 1 + audit.NumKeys + 2

// The indexes in wireKeys of the keys ParseLine and value treat apart.
var (
	keyAction        = 1 + audit.Index(audit.KeyAction)
	keyResponseCode  = 1 + audit.Index(audit.KeyResponseCode)
	keyTimestamp     = 1 + audit.Index(audit.KeyTimestamp)
	keyProjectPublic = 1 + audit.NumKeys
	keyOrgScoped     = 2 + audit.NumKeys
)

var wireIndex = func() map[string]int {
	m := make(map[string]int, len(wireKeys))
	for k, key := range wireKeys {
		m[key] = k
	}
	return m
}()

// keyIndex returns the index of key in wireKeys, or -1.
func keyIndex(key []byte) int {
	if k, ok := wireIndex[string(key)]; ok {
		return k
	}
	return -1
}
