// Package audit defines what an audit event is: the documented action
// catalog, the wire keys, and which of them are personally identifiable.
package audit

import (
	"fmt"
	"slices"
)

// Action is one of the documented audit actions, such as "user:create".
type Action string

// The documented catalog, sorted. It is the only list of actions in the code:
// validation, GraphQL enums and tests all read it from here.
const (
	ArtifactCreate           Action = "artifact:create"
	ArtifactDelete           Action = "artifact:delete"
	ArtifactRead             Action = "artifact:read"
	ProjectDelete            Action = "project:delete"
	ProjectRead              Action = "project:read"
	ReportRead               Action = "report:read"
	RunDelete                Action = "run:delete"
	RunDeleteMany            Action = "run:delete_many"
	RunStop                  Action = "run:stop"
	RunUndeleteMany          Action = "run:undelete_many"
	RunUpdate                Action = "run:update"
	RunUpdateMany            Action = "run:update_many"
	SweepCreateAgent         Action = "sweep:create_agent"
	TeamCreate               Action = "team:create"
	TeamCreateServiceAccount Action = "team:create_service_account"
	TeamDelete               Action = "team:delete"
	TeamInviteUser           Action = "team:invite_user"
	TeamUninvite             Action = "team:uninvite"
	UserCreate               Action = "user:create"
	UserCreateAPIKey         Action = "user:create_api_key"
	UserDeactivate           Action = "user:deactivate"
	UserDeleteAPIKey         Action = "user:delete_api_key"
	UserInitiateLogin        Action = "user:initiate_login"
	UserLogin                Action = "user:login"
	UserLogout               Action = "user:logout"
	UserPermanentlyDelete    Action = "user:permanently_delete"
	UserReactivate           Action = "user:reactivate"
	UserRead                 Action = "user:read"
	UserUpdate               Action = "user:update"
)

var actions = []Action{
	ArtifactCreate, ArtifactDelete, ArtifactRead,
	ProjectDelete, ProjectRead,
	ReportRead,
	RunDelete, RunDeleteMany, RunStop, RunUndeleteMany, RunUpdate, RunUpdateMany,
	SweepCreateAgent,
	TeamCreate, TeamCreateServiceAccount, TeamDelete, TeamInviteUser, TeamUninvite,
	UserCreate, UserCreateAPIKey, UserDeactivate, UserDeleteAPIKey, UserInitiateLogin,
	UserLogin, UserLogout, UserPermanentlyDelete, UserReactivate, UserRead, UserUpdate,
}

// Actions returns the documented catalog in sorted order.
func Actions() []Action { return slices.Clone(actions) }

// Valid reports whether a is in the catalog.
func (a Action) Valid() bool { return slices.Contains(actions, a) }

// ParseAction returns s as an Action, or an error naming the bad value.
func ParseAction(s string) (Action, error) {
	a := Action(s)
	if !a.Valid() {
		return "", fmt.Errorf("unknown action %q", s)
	}
	return a, nil
}
