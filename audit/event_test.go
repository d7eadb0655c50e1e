package audit

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestAppendString(t *testing.T) {
	for in, want := range map[string]string{
		"plain":              `"plain"`,
		`q"b\`:               `"q\"b\\"`,
		"a&b<c>\u2028é":      "\"a&b<c>\u2028é\"",
		"\b\f\n\r\t\x01\x1f": `"\b\f\n\r\t\u0001\u001f"`,
	} {
		t.Run(fmt.Sprintf("%q", in), func(t *testing.T) {
			got := string(AppendString(nil, in))
			if got != want {
				t.Errorf("AppendString(%q) = %s, want %s", in, got, want)
			}
			var back string
			if err := json.Unmarshal([]byte(got), &back); err != nil || back != in {
				t.Errorf("AppendString(%q) does not decode back: %q, %v", in, back, err)
			}
		})
	}
}

func TestEventJSON(t *testing.T) {
	e := Event{Action: UserLogin, ActorEmail: "a@x.io", ResponseCode: 401, Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("X", 3600)), UserAsset: "7"}
	want := `{"action":"user:login","actor_email":"a@x.io","response_code":401,"timestamp":"2026-01-02T02:04:05Z","user_asset":"7"}`
	if got := string(e.AppendJSON(nil)); got != want {
		t.Errorf("AppendJSON = %s, want %s", got, want)
	}
	if got := string(e.Anonymized().AppendJSON(nil)); got != `{"action":"user:login","response_code":401,"timestamp":"2026-01-02T02:04:05Z","user_asset":"7"}` {
		t.Errorf("Anonymized().AppendJSON = %s", got)
	}
	if len(Actions()) != 29 || len(Keys) != 19 || len(PII) != 7 {
		t.Errorf("catalog sizes = %d actions, %d keys, %d PII keys; want 29, 19, 7", len(Actions()), len(Keys), len(PII))
	}
}

// TestSpecsFollowEvent pins Specs to Event: one field per key, in the same
// order, named after the key, and Text(i) reaches field i for the text keys.
func TestSpecsFollowEvent(t *testing.T) {
	typ := reflect.TypeFor[Event]()
	if typ.NumField() != NumKeys {
		t.Fatalf("Event has %d fields, Specs %d keys", typ.NumField(), NumKeys)
	}
	for i, s := range Specs {
		t.Run(string(s.Key), func(t *testing.T) {
			f := typ.Field(i)
			if name := strings.ReplaceAll(string(s.Key), "_", ""); !strings.EqualFold(f.Name, name) {
				t.Errorf("Event field %d is %s, Specs[%d] is %q", i, f.Name, i, s.Key)
			}
			if Index(s.Key) != i {
				t.Errorf("Index(%q) = %d, want %d", s.Key, Index(s.Key), i)
			}
			var e Event
			p := e.Text(i)
			switch s.Kind {
			case Text:
				if p == nil {
					t.Fatalf("Text(%d) = nil for a text key", i)
				}
				if f.Type.Kind() != reflect.String {
					t.Errorf("Event.%s is a %s, want a string kind", f.Name, f.Type)
				}
				*p = "x"
				if got := reflect.ValueOf(e).Field(i).String(); got != "x" {
					t.Errorf("Text(%d) does not reach Event.%s", i, f.Name)
				}
			case Code:
				if p != nil || f.Type != reflect.TypeFor[int]() {
					t.Errorf("Specs[%d] is a code but Event.%s is %s (Text %v)", i, f.Name, f.Type, p)
				}
			case Time:
				if p != nil || f.Type != reflect.TypeFor[time.Time]() {
					t.Errorf("Specs[%d] is a time but Event.%s is %s (Text %v)", i, f.Name, f.Type, p)
				}
			}
		})
	}
	if Index("colour") != -1 {
		t.Errorf("Index(colour) = %d, want -1", Index("colour"))
	}
}

// TestFieldsOneKey checks that an event with one key set has exactly that
// key in Fields, for every key.
func TestFieldsOneKey(t *testing.T) {
	for i, s := range Specs {
		var e Event
		reflect.ValueOf(&e).Elem().Field(i).Set(reflect.ValueOf(oneValue(reflect.TypeFor[Event]().Field(i).Type)))
		fs := e.Fields()
		if len(fs) != 1 || fs[0].Key != s.Key {
			t.Errorf("Fields of an event with only %s set = %v, want that key alone", s.Key, fs)
		}
	}
}

// oneValue returns a non-zero value of an Event field's type.
func oneValue(typ reflect.Type) any {
	switch typ {
	case reflect.TypeFor[int]():
		return 200
	case reflect.TypeFor[time.Time]():
		return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	}
	return reflect.ValueOf("v").Convert(typ).Interface()
}
