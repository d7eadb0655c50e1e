package model

import (
	"time"

	"github.com/auditgraph/auditgraph/audit"
)

// AuditEvent is an audit event as GraphQL answers it. gqlgen binds each
// field of the schema's AuditEvent to the method of the same name, so that
// no field needs a resolver (which gqlgen would run on a goroutine of its
// own). A documented key without a value is null. TestAuditEventFollowsSpecs
// holds the methods to audit.Specs.
type AuditEvent struct {
	seq int64
	e   audit.Event
}

// NewAuditEvent returns the event e, numbered seq in its organization's log.
func NewAuditEvent(seq int64, e audit.Event) AuditEvent { return AuditEvent{seq, e} }

// Event returns the event the AuditEvent answers for.
func (a *AuditEvent) Event() audit.Event { return a.e }

func (a *AuditEvent) Sequence() int           { return int(a.seq) }
func (a *AuditEvent) Action() string          { return string(a.e.Action) }
func (a *AuditEvent) Timestamp() time.Time    { return a.e.Timestamp }
func (a *AuditEvent) ActorEmail() *string     { return text(&a.e.ActorEmail) }
func (a *AuditEvent) ActorIP() *string        { return text(&a.e.ActorIP) }
func (a *AuditEvent) ActorUserID() *string    { return text(&a.e.ActorUserID) }
func (a *AuditEvent) ArtifactAsset() *string  { return text(&a.e.ArtifactAsset) }
func (a *AuditEvent) ArtifactDigest() *string { return text(&a.e.ArtifactDigest) }
func (a *AuditEvent) ArtifactQualifiedName() *string {
	return text(&a.e.ArtifactQualifiedName)
}
func (a *AuditEvent) ArtifactSequenceAsset() *string {
	return text(&a.e.ArtifactSequenceAsset)
}
func (a *AuditEvent) CLIVersion() *string   { return text(&a.e.CLIVersion) }
func (a *AuditEvent) EntityAsset() *string  { return text(&a.e.EntityAsset) }
func (a *AuditEvent) EntityName() *string   { return text(&a.e.EntityName) }
func (a *AuditEvent) ProjectAsset() *string { return text(&a.e.ProjectAsset) }
func (a *AuditEvent) ProjectName() *string  { return text(&a.e.ProjectName) }
func (a *AuditEvent) ReportAsset() *string  { return text(&a.e.ReportAsset) }
func (a *AuditEvent) ReportName() *string   { return text(&a.e.ReportName) }
func (a *AuditEvent) UserAsset() *string    { return text(&a.e.UserAsset) }
func (a *AuditEvent) UserEmail() *string    { return text(&a.e.UserEmail) }

// ResponseCode is null when the event has no response code.
func (a *AuditEvent) ResponseCode() *int {
	if a.e.ResponseCode == 0 {
		return nil
	}
	return &a.e.ResponseCode
}

// JSON is the event as the REST API writes it.
func (a *AuditEvent) JSON() string { return string(a.e.AppendJSON(nil)) }

// text returns p, or nil when *p is empty ("no value").
func text(p *string) *string {
	if *p == "" {
		return nil
	}
	return p
}
