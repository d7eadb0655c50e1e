package resolvers

import (
	"context"
	"strconv"
	"time"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/graph/model"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/activity"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/identity/userstatus"
	"github.com/auditgraph/auditgraph/internal/log/auditlog"
)

// viewer returns the caller, or a user with no rights when there is none
// (the services then refuse).
func (r *Resolver) viewer(ctx context.Context) identity.User {
	if p := auth.FromContext(ctx); p != nil {
		return p.User
	}
	return identity.User{}
}

// now is the resolvers' clock.
func (r *Resolver) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// status returns a member's status under the server's mode.
func (r *Resolver) status(m *model.Member) userstatus.Status {
	return userstatus.Of(r.Mode, m.User, m.Membership, r.now())
}

// member returns m with its user, for the fields of Member that are the
// user's.
func (r *Resolver) member(ctx context.Context, m identity.Membership) (*model.Member, error) {
	u, err := r.Loaders(ctx).Users.Load(ctx, m.UserID)
	if err != nil {
		return nil, err
	}
	member := model.NewMember(m, u)
	return &member, nil
}

// period resolves a panel's period: the default when none is given, an
// error naming the allowed ones when the mode does not offer it, and an
// error when the panel belongs to the other deployment family.
func (r *Resolver) period(ctx context.Context, s *model.ActivityStats, p *model.ActivityPeriod, panel activity.Panel, multiTenantPanel bool) (from, to time.Time, _ model.ActivityPeriod, _ error) {
	if multiTenantPanel != r.Mode.MultiTenant() {
		return from, to, "", gqlerror.Errorf("this panel is not shown in %s mode: self-managed and dedicated have totalActiveUsers and usersActiveOverTime; multi-tenant has activeUserCount, weeklyActiveUsers and mostActiveUsers", r.Mode)
	}
	per := activity.Default(r.Mode, panel)
	if p != nil {
		per = activity.Period(*p)
	}
	if err := activity.Check(r.Mode, per); err != nil {
		return from, to, "", gqlerror.Errorf("%v", err)
	}
	// Only ALL_TIME needs the organization's first day with activity.
	var first time.Time
	if per == activity.AllTime {
		var err error
		if first, err = r.Stats.FirstDay(ctx, r.viewer(ctx), s.OrgID); err != nil {
			return from, to, "", err
		}
	}
	from, to = per.Days(r.now(), first)
	return from, to, model.ActivityPeriod(per), nil
}

func (r *activityStatsResolver) activeCount(ctx context.Context, s *model.ActivityStats, p *model.ActivityPeriod, panel activity.Panel, multiTenantPanel bool) (*model.ActiveUserCount, error) {
	from, to, per, err := r.period(ctx, s, p, panel, multiTenantPanel)
	if err != nil {
		return nil, err
	}
	n, err := r.Stats.ActiveUsers(ctx, r.viewer(ctx), s.OrgID, from, to)
	return &model.ActiveUserCount{Period: per, From: from, To: to, Count: n}, err
}

func series(p model.ActivityPeriod, from, to time.Time, points []activity.DayCount) *model.ActivitySeries {
	s := &model.ActivitySeries{Period: p, From: from, To: to, Points: make([]model.ActivityPoint, len(points))}
	for i, d := range points {
		s.Points[i] = model.ActivityPoint{Date: d.Day, ActiveUsers: d.Users}
	}
	return s
}

// usersQuery translates the users connection's arguments, and returns the
// team filter's name apart: the service looks it up.
func (r *Resolver) usersQuery(first *int, after *string, last *int, before *string, filter *model.UserFilter, orderBy *model.UserOrder) (identity.OrgUsersQuery, *string, error) {
	q, err := r.usersQueryArgs(first, after, last, before, filter, orderBy)
	if filter == nil || err != nil {
		return q, nil, err
	}
	return q, filter.Team, nil
}

func (r *Resolver) usersQueryArgs(first *int, after *string, last *int, before *string, filter *model.UserFilter, orderBy *model.UserOrder) (identity.OrgUsersQuery, error) {
	q := identity.OrgUsersQuery{MultiTenant: r.Mode.MultiTenant(), ActiveSince: userstatus.ActiveSince(r.now())}
	switch {
	case first != nil && last != nil:
		return q, gqlerror.Errorf("give first or last, not both")
	case last != nil:
		n, err := pageSize(last)
		if err != nil {
			return q, gqlerror.Errorf("last must be between 0 and %d, got %d (maximum page size)", MaxPageSize, *last)
		}
		q.Limit, q.Last, q.Before = n, true, deref(before)
	default:
		n, err := pageSize(first)
		if err != nil {
			return q, err
		}
		q.Limit, q.After = n, deref(after)
	}
	if orderBy != nil {
		q.Sort, q.Desc = identity.UserSort(orderBy.Field), orderBy.Direction == model.OrderDirectionDesc
	} else {
		q.Sort, q.Desc = identity.SortLastActive, true
	}
	if filter == nil {
		return q, nil
	}
	allowed := userstatus.Statuses(r.Mode)
	for _, s := range filter.Status {
		if !containsStatus(allowed, userstatus.Status(s)) {
			return q, gqlerror.Errorf("filter.status: %s is not a status in %s mode: use %v", s, r.Mode, allowed)
		}
		q.Statuses = append(q.Statuses, string(s))
	}
	for _, role := range filter.Role {
		q.Roles = append(q.Roles, lower(role))
	}
	q.Search = deref(filter.Search)
	return q, nil
}

func containsStatus(ss []userstatus.Status, s userstatus.Status) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// eventFilter translates the audit events' filter; the startDate/numDays
// window is the REST API's, from the same package.
func (r *Resolver) eventFilter(orgID int64, f *model.AuditEventFilter) (auditlog.EventFilter, error) {
	ef := auditlog.EventFilter{OrgID: orgID}
	if f == nil {
		f = &model.AuditEventFilter{}
	}
	for _, a := range f.Actions {
		if _, err := audit.ParseAction(a); err != nil {
			return ef, gqlerror.Errorf("filter.actions: %v", err)
		}
		ef.Actions = append(ef.Actions, a)
	}
	ef.Actor, ef.TargetUser, ef.Entity, ef.Project = deref(f.Actor), deref(f.TargetUser), deref(f.Entity), deref(f.Project)
	if f.ResponseCodeMin != nil {
		ef.CodeMin = *f.ResponseCodeMin
	}
	if f.ResponseCodeMax != nil {
		ef.CodeMax = *f.ResponseCodeMax
	}
	if f.AfterSequence != nil {
		if *f.AfterSequence < 0 {
			return ef, gqlerror.Errorf("filter.afterSequence: %d is not allowed: want 0 or more", *f.AfterSequence)
		}
		ef.AfterSeq = int64(*f.AfterSequence)
		if f.From == nil && f.To == nil && f.StartDate == nil && f.NumDays == nil {
			// What a subscription missed, whatever its timestamps: no window.
			ef.Start, ef.End = time.Unix(0, 0).UTC(), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
			return ef, nil
		}
	}
	if f.From != nil || f.To != nil {
		if f.StartDate != nil || f.NumDays != nil {
			return ef, gqlerror.Errorf("filter: give from/to or startDate/numDays, not both")
		}
		ef.Start, ef.End = time.Unix(0, 0).UTC(), r.now().Add(24*time.Hour)
		if f.From != nil {
			ef.Start = *f.From
		}
		if f.To != nil {
			ef.End = *f.To
		}
		if !ef.Start.Before(ef.End) {
			return ef, gqlerror.Errorf("filter: from must be before to")
		}
		// The REST API's rule for startDate/endDate: multi-tenant reaches
		// back at most auditlog.MaxSpan from the end.
		ef.Start, _ = auditlog.Span(ef.Start, ef.End, r.Mode)
		return ef, nil
	}
	values := map[string][]string{}
	if f.StartDate != nil {
		values["startDate"] = []string{*f.StartDate}
	}
	if f.NumDays != nil {
		values["numDays"] = []string{strconv.Itoa(*f.NumDays)}
	}
	q, err := auditlog.Parse(values, r.Mode, r.now())
	if err != nil {
		return ef, gqlerror.Errorf("filter.%v", err)
	}
	ef.Start, ef.End = q.Start, q.End
	return ef, nil
}
