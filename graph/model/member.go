package model

import (
	"strings"
	"time"

	"github.com/auditgraph/auditgraph/internal/entity"
)

// Member is an organization's member as GraphQL answers it: the membership
// with its user, read together. gqlgen binds the schema's Member fields
// that need nothing else to these methods and fields, so that they need no
// resolver (gqlgen runs each resolver field of each list item on a
// goroutine of its own); the members page of 50 then starts no goroutine
// per field. The fields that need the server's mode, clock or other rows
// (organization, teams, status, lastActiveDisplay, reportCount, runCount)
// keep their resolvers.
type Member struct {
	entity.Membership
	// User is the member's user (the user field, and name, username, email).
	User entity.User
}

// NewMember returns the member m whose user is u.
func NewMember(m entity.Membership, u entity.User) Member { return Member{Membership: m, User: u} }

func (m *Member) Name() string     { return m.User.Name }
func (m *Member) Username() string { return m.User.Username }

// Email is null for a user without one.
func (m *Member) Email() *string {
	if m.User.Email == "" {
		return nil
	}
	return &m.User.Email
}

func (m *Member) Role() OrgRole            { return OrgRole(strings.ToUpper(m.Membership.Role)) }
func (m *Member) ModelsSeat() SeatLevel    { return SeatLevel(strings.ToUpper(m.Membership.ModelsSeat)) }
func (m *Member) WeaveAccess() SeatLevel   { return SeatLevel(strings.ToUpper(m.Membership.WeaveAccess)) }
func (m *Member) DateAdded() *time.Time    { return &m.Membership.AddedAt }
func (m *Member) InvitePending() bool      { return m.Membership.Pending() }
func (m *Member) LastActiveAt() *time.Time { return m.Membership.LastActiveAt }
func (m *Member) ActiveDays() int          { return m.Membership.ActiveDays }
