package audit

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
)

// Event is one audit log entry with the documented keys. Empty strings and a
// zero ResponseCode mean "no value" and are left out of the JSON object.
type Event struct {
	Action                Action
	ActorEmail            string
	ActorIP               string
	ActorUserID           string
	ArtifactAsset         string
	ArtifactDigest        string
	ArtifactQualifiedName string
	ArtifactSequenceAsset string
	CLIVersion            string
	EntityAsset           string
	EntityName            string
	ProjectAsset          string
	ProjectName           string
	ReportAsset           string
	ReportName            string
	ResponseCode          int
	Timestamp             time.Time
	UserAsset             string
	UserEmail             string
}

// Key names a documented JSON key of an event.
type Key string

// The documented keys, in the alphabetical order the reference lists them.
const (
	KeyAction                Key = "action"
	KeyActorEmail            Key = "actor_email"
	KeyActorIP               Key = "actor_ip"
	KeyActorUserID           Key = "actor_user_id"
	KeyArtifactAsset         Key = "artifact_asset"
	KeyArtifactDigest        Key = "artifact_digest"
	KeyArtifactQualifiedName Key = "artifact_qualified_name"
	KeyArtifactSequenceAsset Key = "artifact_sequence_asset"
	KeyCLIVersion            Key = "cli_version"
	KeyEntityAsset           Key = "entity_asset"
	KeyEntityName            Key = "entity_name"
	KeyProjectAsset          Key = "project_asset"
	KeyProjectName           Key = "project_name"
	KeyReportAsset           Key = "report_asset"
	KeyReportName            Key = "report_name"
	KeyResponseCode          Key = "response_code"
	KeyTimestamp             Key = "timestamp"
	KeyUserAsset             Key = "user_asset"
	KeyUserEmail             Key = "user_email"
)

// Keys lists every documented key in alphabetical order, the order events
// are written in.
var Keys = []Key{
	KeyAction, KeyActorEmail, KeyActorIP, KeyActorUserID, KeyArtifactAsset, KeyArtifactDigest,
	KeyArtifactQualifiedName, KeyArtifactSequenceAsset, KeyCLIVersion, KeyEntityAsset, KeyEntityName,
	KeyProjectAsset, KeyProjectName, KeyReportAsset, KeyReportName, KeyResponseCode, KeyTimestamp,
	KeyUserAsset, KeyUserEmail,
}

// PII lists the keys that anonymize=true removes. IDs are not PII here: they
// let an analyst correlate events without naming anyone.
var PII = []Key{
	KeyActorEmail, KeyUserEmail, KeyActorIP, KeyEntityName,
	KeyProjectName, KeyReportName, KeyArtifactQualifiedName,
}

// Fields returns the event's keys that have values, in alphabetical order,
// each with its JSON-encoded value. Encoding, anonymization and hashing all
// walk this one list.
func (e Event) Fields() []Field {
	fs := make([]Field, 0, 8)
	str := func(k Key, v string) {
		if v != "" {
			fs = append(fs, Field{k, AppendString(nil, v)})
		}
	}
	str(KeyAction, string(e.Action))
	str(KeyActorEmail, e.ActorEmail)
	str(KeyActorIP, e.ActorIP)
	str(KeyActorUserID, e.ActorUserID)
	str(KeyArtifactAsset, e.ArtifactAsset)
	str(KeyArtifactDigest, e.ArtifactDigest)
	str(KeyArtifactQualifiedName, e.ArtifactQualifiedName)
	str(KeyArtifactSequenceAsset, e.ArtifactSequenceAsset)
	str(KeyCLIVersion, e.CLIVersion)
	str(KeyEntityAsset, e.EntityAsset)
	str(KeyEntityName, e.EntityName)
	str(KeyProjectAsset, e.ProjectAsset)
	str(KeyProjectName, e.ProjectName)
	str(KeyReportAsset, e.ReportAsset)
	str(KeyReportName, e.ReportName)
	if e.ResponseCode != 0 {
		fs = append(fs, Field{KeyResponseCode, strconv.AppendInt(nil, int64(e.ResponseCode), 10)})
	}
	if !e.Timestamp.IsZero() {
		str(KeyTimestamp, e.Timestamp.UTC().Format(time.RFC3339))
	}
	str(KeyUserAsset, e.UserAsset)
	str(KeyUserEmail, e.UserEmail)
	return fs
}

// Field is one key of an event with its JSON-encoded value.
type Field struct {
	Key   Key
	Value json.RawMessage
}

// IsPII reports whether k is removed by anonymization.
func (k Key) IsPII() bool { return slices.Contains(PII, k) }

// Anonymized returns a copy of e without the PII keys.
func (e Event) Anonymized() Event {
	for _, k := range PII {
		*e.text(k) = ""
	}
	return e
}

// text returns the field holding a string-valued key, or nil for the keys
// that are not strings (action, response_code, timestamp).
func (e *Event) text(k Key) *string {
	switch k {
	case KeyActorEmail:
		return &e.ActorEmail
	case KeyActorIP:
		return &e.ActorIP
	case KeyActorUserID:
		return &e.ActorUserID
	case KeyArtifactAsset:
		return &e.ArtifactAsset
	case KeyArtifactDigest:
		return &e.ArtifactDigest
	case KeyArtifactQualifiedName:
		return &e.ArtifactQualifiedName
	case KeyArtifactSequenceAsset:
		return &e.ArtifactSequenceAsset
	case KeyCLIVersion:
		return &e.CLIVersion
	case KeyEntityAsset:
		return &e.EntityAsset
	case KeyEntityName:
		return &e.EntityName
	case KeyProjectAsset:
		return &e.ProjectAsset
	case KeyProjectName:
		return &e.ProjectName
	case KeyReportAsset:
		return &e.ReportAsset
	case KeyReportName:
		return &e.ReportName
	case KeyUserAsset:
		return &e.UserAsset
	case KeyUserEmail:
		return &e.UserEmail
	}
	return nil
}

// MarshalJSON writes the keys that have values, in alphabetical order, with
// the timestamp in RFC3339 UTC.
func (e Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(nil), nil
}

// AppendJSON appends the event's JSON object to b.
func (e Event) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	for i, f := range e.Fields() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, f.Key...)
		b = append(b, '"', ':')
		b = append(b, f.Value...)
	}
	return append(b, '}')
}

// AppendString appends s as a JSON string, escaped exactly as PostgreSQL's
// to_json escapes text: quote, backslash and the control characters, nothing
// else (no HTML escaping). The REST API's objects are written by PostgreSQL
// and the GraphQL API's by this function; both must give the same bytes.
func AppendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			if c < 0x20 {
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}
