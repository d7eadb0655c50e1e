package audit

import (
	"encoding/json"
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
		got := string(AppendString(nil, in))
		if got != want {
			t.Errorf("AppendString(%q) = %s, want %s", in, got, want)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil || back != in {
			t.Errorf("AppendString(%q) does not decode back: %q, %v", in, back, err)
		}
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
