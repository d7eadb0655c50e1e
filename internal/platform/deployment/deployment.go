// Package deployment names the server's deployment mode, which decides user
// statuses, activity rules, audit-log limits and what is collected.
package deployment

import "fmt"

// Mode is the deployment family a server runs as.
type Mode string

// The modes. Dedicated behaves as self-managed.
const (
	SelfManaged Mode = "self-managed"
	Dedicated   Mode = "dedicated"
	MultiTenant Mode = "multi-tenant"
)

// Parse returns the mode named s, or an error listing the valid names.
func Parse(s string) (Mode, error) {
	switch m := Mode(s); m {
	case SelfManaged, Dedicated, MultiTenant:
		return m, nil
	}
	return "", fmt.Errorf("unknown deployment %q: want self-managed, dedicated or multi-tenant", s)
}

// MultiTenant reports whether m is the multi-tenant cloud family; the other
// two modes share the self-managed rules.
func (m Mode) MultiTenant() bool { return m == MultiTenant }

// HasInstanceOrg reports whether the instance has an organization of its own,
// created at first start.
func (m Mode) HasInstanceOrg() bool { return !m.MultiTenant() }
