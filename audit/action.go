// Package audit defines what an audit event is: the documented action
// catalog, the wire keys, and which of them are personally identifiable.
package audit

import (
	"fmt"
	"slices"
	"strings"
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

// descriptions are the reference's definitions of the actions, word for word.
var descriptions = map[Action]string{
	ArtifactCreate:           "Artifact is created.",
	ArtifactDelete:           "Artifact is deleted.",
	ArtifactRead:             "Artifact is read.",
	ProjectDelete:            "Project is deleted.",
	ProjectRead:              "Project is read.",
	ReportRead:               "Report is read.",
	RunDelete:                "Run is deleted.",
	RunDeleteMany:            "Runs are deleted in batch.",
	RunStop:                  "Run is stopped.",
	RunUndeleteMany:          "Runs are brought back from trash in batch.",
	RunUpdate:                "Run is updated.",
	RunUpdateMany:            "Runs are updated in batch.",
	SweepCreateAgent:         "Sweep agent is created.",
	TeamCreate:               "Team is created.",
	TeamCreateServiceAccount: "Service account is created for the team.",
	TeamDelete:               "Team is deleted.",
	TeamInviteUser:           "User is invited to team.",
	TeamUninvite:             "User or service account is uninvited from team.",
	UserCreate:               "User is created.",
	UserCreateAPIKey:         "API key for the user is created.",
	UserDeactivate:           "User is deactivated.",
	UserDeleteAPIKey:         "API key for the user is deleted.",
	UserInitiateLogin:        "User initiates log in.",
	UserLogin:                "User logs in.",
	UserLogout:               "User logs out.",
	UserPermanentlyDelete:    "User is permanently deleted.",
	UserReactivate:           "User is reactivated.",
	UserRead:                 "User profile is read.",
	UserUpdate:               "User is updated.",
}

// Description returns what a records, as the reference defines it ("User
// logs in."); empty for an action not in the catalog.
func (a Action) Description() string { return descriptions[a] }

// Kind returns the part of a before the colon ("user" of "user:login"):
// what kind of thing the action is on.
func (a Action) Kind() string {
	k, _, _ := strings.Cut(string(a), ":")
	return k
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
