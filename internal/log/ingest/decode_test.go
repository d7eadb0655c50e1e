package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/auditgraph/auditgraph/audit"
)

// stdWire is a line as encoding/json decodes it, for the reference decoder:
// one field per key of wireKeys, in its order (TestWireKeys).
type stdWire struct {
	ID                    *string          `json:"id"`
	Action                *string          `json:"action"`
	ActorEmail            *string          `json:"actor_email"`
	ActorIP               *string          `json:"actor_ip"`
	ActorUserID           *string          `json:"actor_user_id"`
	ArtifactAsset         *string          `json:"artifact_asset"`
	ArtifactDigest        *string          `json:"artifact_digest"`
	ArtifactQualifiedName *string          `json:"artifact_qualified_name"`
	ArtifactSequenceAsset *string          `json:"artifact_sequence_asset"`
	CLIVersion            *string          `json:"cli_version"`
	EntityAsset           *string          `json:"entity_asset"`
	EntityName            *string          `json:"entity_name"`
	ProjectAsset          *string          `json:"project_asset"`
	ProjectName           *string          `json:"project_name"`
	ReportAsset           *string          `json:"report_asset"`
	ReportName            *string          `json:"report_name"`
	ResponseCode          *json.RawMessage `json:"response_code"`
	Timestamp             *string          `json:"timestamp"`
	UserAsset             *string          `json:"user_asset"`
	UserEmail             *string          `json:"user_email"`
	ProjectPublic         *bool            `json:"project_public"`
	OrgScoped             *bool            `json:"org_scoped"`
}

// wire returns what decodeWire makes of the same line.
func (s *stdWire) wire() wire {
	var w wire
	v := reflect.ValueOf(s).Elem()
	for k := range v.NumField() {
		f := v.Field(k)
		if f.IsNil() {
			continue
		}
		w.set |= 1 << k
		switch p := f.Interface().(type) {
		case *string:
			w.text[k] = *p
		case *json.RawMessage:
			w.text[k] = string(*p)
		case *bool:
			if k == keyProjectPublic {
				w.projectPublic = *p
			} else {
				w.orgScoped = *p
			}
		}
	}
	return w
}

// decodeWireStd is the reference decodeWire must agree with: encoding/json
// with unknown keys refused and nothing after the object.
func decodeWireStd(b []byte, w *wire) (field, reason string, ok bool) {
	var s stdWire
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		field, reason := describeJSONError(err)
		return field, reason, false
	}
	if dec.More() {
		return "", "more than one JSON value on the line", false
	}
	*w = s.wire()
	return "", "", true
}

// describeJSONError turns a decoding error into the field it concerns and a
// reason a person can act on.
func describeJSONError(err error) (field, reason string) {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return te.Field, fmt.Sprintf("wrong type: got a JSON %s, want %s", te.Value, jsonKind(te.Type.String()))
	case errors.As(err, &se):
		return "", "not valid JSON: " + se.Error()
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return name, "unknown key"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "", "not a complete JSON object"
	}
	return "", "not valid JSON: " + err.Error()
}

func jsonKind(goType string) string {
	switch goType {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	}
	return "an object with the documented keys"
}

func FuzzDecodeWire(f *testing.F) {
	for _, s := range []string{
		`{"action":"user:login"}`,
		`{"id":"x","action":"run:update","timestamp":"2026-01-01T00:00:00Z","response_code":200}`,
		`{"action":"user:login","project_public":true,"org_scoped":false}`,
		`{"action":"a\"b\\c\/d\u00e9\ud83d\ude00\ud800x\n"}`,
		`{"response_code":2e2}`, `{"response_code":"200"}`, `{"response_code":-0.5}`, `{"response_code":null}`,
		`{"action":null}`, `{"colour":null}`, `{}`, ` { } `, `{"action":"x"} x`, `{"action":"x",}`, `{"action" "x"}`,
		`{"project_public":"yes"}`, `{"action":1}`, `{"response_code":{}}`, `{"action":"x","action":"y"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8Valid(b) {
			return // ParseLine refuses invalid UTF-8 before decoding
		}
		var fast, std wire
		fieldFast, reasonFast, okFast := decodeWire(b, &fast)
		_, _, okStd := decodeWireStd(b, &std)
		// encoding/json takes any value as the raw response_code, which
		// ParseLine then refuses; decodeWire refuses an object or array there
		// at once. Both end as a response_code error.
		if !okFast && okStd && fieldFast == "response_code" && std.has(keyResponseCode) &&
			strings.ContainsAny(std.text[keyResponseCode][:1], "{[") {
			return
		}
		// encoding/json's Decoder.More lets a stray '}' or ']' after the
		// object pass; decodeWire refuses anything after it.
		if !okFast && okStd && reasonFast == "more than one JSON value on the line" {
			return
		}
		// encoding/json matches keys without regard to case; decodeWire
		// takes only the documented spelling.
		if !okFast && okStd && reasonFast == "unknown key" && knownFold(fieldFast) {
			return
		}
		// encoding/json keeps a repeated key's last value; decodeWire refuses
		// the line.
		if !okFast && okStd && strings.HasPrefix(reasonFast, "repeated key") && repeats(b, fieldFast) {
			return
		}
		if okFast != okStd {
			t.Fatalf("decodeWire(%q) ok = %v, encoding/json ok = %v", b, okFast, okStd)
		}
		if okFast && !reflect.DeepEqual(fast, std) {
			t.Fatalf("decodeWire(%q) = %s, encoding/json = %s", b, dump(fast), dump(std))
		}
	})
}

// repeats reports whether the JSON object b holds key more than once.
func repeats(b []byte, key string) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	n := 0
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		if t == key {
			n++
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return false
		}
	}
	return n > 1
}

func dump(w wire) string { return fmt.Sprintf("%+v", w) }

func TestDecodeWireErrorsNameTheKey(t *testing.T) {
	for in, field := range map[string]string{
		`{"colour":"red"}`:                               "colour",
		`{"action":5}`:                                   "action",
		`{"project_public":"yes"}`:                       "project_public",
		`{"actor_email":["a"]}`:                          "actor_email",
		`{"response_code":{"a":1}}`:                      "response_code",
		`{"action":"x"`:                                  "",
		`{"action":"x"} {"action":1}`:                    "",
		`{"action":"user:login","action":"user:logout"}`: "action",
		`{"id":"1","action":"user:login","\u0069d":"2"}`: "id",
		`{"response_code":200,"response_code":null}`:     "response_code",
		`{"org_scoped":true,"org_scoped":true}`:          "org_scoped",
	} {
		t.Run(in, func(t *testing.T) {
			var w wire
			f, reason, ok := decodeWire([]byte(in), &w)
			if ok || f != field || reason == "" {
				t.Errorf("decodeWire(%s) = %q, %q, %v; want an error for field %q", in, f, reason, ok, field)
			}
		})
	}
}

// TestWireKeys pins wireKeys to audit.Keys and to stdWire's fields, and
// keyIndex to wireKeys.
func TestWireKeys(t *testing.T) {
	typ := reflect.TypeFor[stdWire]()
	if typ.NumField() != len(wireKeys) || len(wireKeys) != numWireKeys {
		t.Fatalf("stdWire has %d fields, wireKeys %d keys, numWireKeys is %d", typ.NumField(), len(wireKeys), numWireKeys)
	}
	for i, k := range audit.Keys {
		if wireKeys[1+i] != string(k) {
			t.Errorf("wireKeys[%d] = %q, want audit.Keys[%d] = %q", 1+i, wireKeys[1+i], i, k)
		}
	}
	for k, key := range wireKeys {
		if tag := typ.Field(k).Tag.Get("json"); tag != key {
			t.Errorf("wireKeys[%d] = %q, stdWire field %d is %q", k, key, k, tag)
		}
		if got := keyIndex([]byte(key)); got != k {
			t.Errorf("keyIndex(%q) = %d, want %d", key, got, k)
		}
	}
	if keyIndex([]byte("Action")) != -1 {
		t.Errorf("keyIndex(Action) matched: keys are matched exactly")
	}
}

func utf8Valid(b []byte) bool { return utf8.Valid(b) }

func knownFold(key string) bool {
	for _, k := range wireKeys {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}
