package fault_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/auditgraph/auditgraph/internal/platform/fault"
)

var errKind = errors.New("not found")

func TestMessage(t *testing.T) {
	internal := fmt.Errorf("storage: get team %q: %w", "x", errKind)
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"bare kind in a wrap chain", internal, "not found"},
		{"public detail", fault.New(errKind, "team %q", "x"), `not found: team "x"`},
		{"public detail over a cause", fault.Wrap(errKind, internal, "team %q", "x"), `not found: team "x"`},
		{"wrapped public detail", fmt.Errorf("identity: %w", fault.New(errKind, "team %q", "x")), `not found: team "x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, errKind) {
				t.Fatalf("errors.Is(%v, kind) = false", tc.err)
			}
			if got := fault.Message(tc.err, errKind); got != tc.want {
				t.Errorf("Message(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

func TestWrapKeepsCause(t *testing.T) {
	cause := errors.New("pq: duplicate key")
	err := fault.Wrap(errKind, cause, "team %q", "x")
	if !errors.Is(err, cause) || err.Error() != `not found: team "x": pq: duplicate key` {
		t.Errorf("Wrap: %v (Is cause %v), want the cause kept for the log", err, errors.Is(err, cause))
	}
}
