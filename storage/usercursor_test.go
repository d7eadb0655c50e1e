package storage

import (
	"encoding/base64"
	"encoding/json"
	"testing"
)

// TestUserCursorEncodesAsJSON checks that the hand-written cursor encoding
// writes exactly what json.Marshal writes, for keys that need escaping and
// for those that do not, and that every cursor decodes back.
func TestUserCursorEncodesAsJSON(t *testing.T) {
	for _, c := range []userCursor{
		{Sort: SortLastActive, Desc: true, Key: "2026-12-03T22:25:05.123456Z", ID: 42},
		{Sort: SortLastActive, Desc: false, Key: "", ID: 1},
		{Sort: SortName, Desc: false, Key: "alice smith", ID: 9_223_372_036_854_775_807},
		{Sort: SortName, Desc: true, Key: `quote " and \ backslash`, ID: 7},
		{Sort: SortName, Key: "<script>&amp;", ID: -3},
		{Sort: SortName, Key: "Zoë 山田\ttab\u2028", ID: 5},
		{Sort: SortDateAdded, Desc: true, Key: "2026-01-01 00:00:00+00", ID: 0},
	} {
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		enc := c.encode()
		got, err := base64.RawURLEncoding.DecodeString(enc)
		if err != nil || string(got) != string(want) {
			t.Errorf("cursor %+v encodes as %s (%v), want %s", c, got, err, want)
		}
		back, err := decodeUserCursor(enc, c.Sort, c.Desc)
		if err != nil || back != c {
			t.Errorf("cursor %+v decodes as %+v, %v", c, back, err)
		}
	}
}
