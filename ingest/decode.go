package ingest

import (
	"encoding/json"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeWire fills w from one line holding a flat JSON object, as
// encoding/json would with DisallowUnknownFields, about ten times faster:
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
	for {
		d.ws()
		key, ok := d.str()
		if !ok {
			return "", "not valid JSON: " + d.err, false
		}
		d.ws()
		if !d.eat(':') {
			return "", "not valid JSON: expected ':' after a key", false
		}
		d.ws()
		if f, r, ok := d.value(key, w); !ok {
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

// value reads the value of key into w.
func (d *decoder) value(key string, w *wire) (field, reason string, ok bool) {
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
		if _, known := wireField(w, key); !known && key != "response_code" && key != "project_public" && key != "org_scoped" {
			return key, "unknown key", false
		}
		switch key {
		case "response_code":
			w.ResponseCode = nil
		case "project_public":
			w.ProjectPublic = nil
		case "org_scoped":
			w.OrgScoped = nil
		default:
			p, _ := wireField(w, key)
			*p = nil
		}
		return "", "", true
	}
	switch key {
	case "response_code":
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
			return key, "wrong type: want a number", false
		}
		raw := json.RawMessage(append([]byte(nil), d.b[start:d.i]...))
		w.ResponseCode = &raw
		return "", "", true
	case "project_public", "org_scoped":
		var v bool
		switch {
		case d.lit("true"):
			v = true
		case d.lit("false"):
		default:
			return key, "wrong type: want true or false", false
		}
		if key == "project_public" {
			w.ProjectPublic = &v
		} else {
			w.OrgScoped = &v
		}
		return "", "", true
	}
	p, known := wireField(w, key)
	if !known {
		return key, "unknown key", false
	}
	if c != '"' {
		return key, "wrong type: want a string", false
	}
	s, ok := d.str()
	if !ok {
		return "", "not valid JSON: " + d.err, false
	}
	*p = &s
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

// wireField returns the field of a string-valued key.
func wireField(w *wire, key string) (**string, bool) {
	switch key {
	case "id":
		return &w.ID, true
	case "action":
		return &w.Action, true
	case "actor_email":
		return &w.ActorEmail, true
	case "actor_ip":
		return &w.ActorIP, true
	case "actor_user_id":
		return &w.ActorUserID, true
	case "artifact_asset":
		return &w.ArtifactAsset, true
	case "artifact_digest":
		return &w.ArtifactDigest, true
	case "artifact_qualified_name":
		return &w.ArtifactQualifiedName, true
	case "artifact_sequence_asset":
		return &w.ArtifactSequenceAsset, true
	case "cli_version":
		return &w.CLIVersion, true
	case "entity_asset":
		return &w.EntityAsset, true
	case "entity_name":
		return &w.EntityName, true
	case "project_asset":
		return &w.ProjectAsset, true
	case "project_name":
		return &w.ProjectName, true
	case "report_asset":
		return &w.ReportAsset, true
	case "report_name":
		return &w.ReportName, true
	case "timestamp":
		return &w.Timestamp, true
	case "user_asset":
		return &w.UserAsset, true
	case "user_email":
		return &w.UserEmail, true
	}
	return nil, false
}
