package audit

import (
	"strings"
	"testing"
)

// TestActionCatalog checks that every action of the catalog has its
// reference definition and a kind, and that nothing else has either.
func TestActionCatalog(t *testing.T) {
	if got := len(Actions()); got != 29 {
		t.Fatalf("catalog holds %d actions, want the 29 documented", got)
	}
	for _, a := range Actions() {
		d := a.Description()
		if d == "" || !strings.HasSuffix(d, ".") {
			t.Errorf("%s: description %q, want the reference's sentence", a, d)
		}
		if k := a.Kind(); k == "" || !strings.HasPrefix(string(a), k+":") {
			t.Errorf("%s: kind %q", a, k)
		}
	}
	if len(descriptions) != len(actions) {
		t.Errorf("%d descriptions for %d actions", len(descriptions), len(actions))
	}
	if d := Action("user:fly").Description(); d != "" {
		t.Errorf("unknown action described as %q", d)
	}
	if got := UserLogin.Description(); got != "User logs in." {
		t.Errorf("user:login = %q", got)
	}
}
