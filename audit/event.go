package audit

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
)

// Event is one audit log entry with the documented keys, one field per key in
// the order of Specs. Empty strings and a zero ResponseCode mean "no value"
// and are left out of the JSON object.
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

// Kind says how an event holds a key's value.
type Kind uint8

const (
	// Text is a string (the action too); "" means no value.
	Text Kind = iota
	// Code is response_code, an integer; 0 means no value.
	Code
	// Time is the timestamp; the zero time means no value.
	Time
)

// Spec describes one documented key.
type Spec struct {
	Key Key
	// Column is the audit_events column that keeps the key.
	Column string
	Kind   Kind
}

// Specs is the one list of the documented keys, in alphabetical order: the
// order events are written, hashed and stored in, and the order of Event's
// fields. Column lists, scans, COPY rows, the decoders and the SQL that
// writes an event's JSON are built from it; Event.Text(i) reaches the value
// of Specs[i].
var Specs = [...]Spec{
	{KeyAction, "action", Text},
	{KeyActorEmail, "actor_email", Text},
	{KeyActorIP, "actor_ip", Text},
	{KeyActorUserID, "actor_user_id", Text},
	{KeyArtifactAsset, "artifact_asset", Text},
	{KeyArtifactDigest, "artifact_digest", Text},
	{KeyArtifactQualifiedName, "artifact_qualified_name", Text},
	{KeyArtifactSequenceAsset, "artifact_sequence_asset", Text},
	{KeyCLIVersion, "cli_version", Text},
	{KeyEntityAsset, "entity_asset", Text},
	{KeyEntityName, "entity_name", Text},
	{KeyProjectAsset, "project_asset", Text},
	{KeyProjectName, "project_name", Text},
	{KeyReportAsset, "report_asset", Text},
	{KeyReportName, "report_name", Text},
	{KeyResponseCode, "response_code", Code},
	{KeyTimestamp, "ts", Time},
	{KeyUserAsset, "user_asset", Text},
	{KeyUserEmail, "user_email", Text},
}

// NumKeys is how many documented keys there are.
const NumKeys = len(Specs)

// Keys lists every documented key in alphabetical order (Specs' keys).
var Keys = func() []Key {
	ks := make([]Key, NumKeys)
	for i, s := range Specs {
		ks[i] = s.Key
	}
	return ks
}()

var keyIndex = func() map[Key]int {
	m := make(map[Key]int, NumKeys)
	for i, s := range Specs {
		m[s.Key] = i
	}
	return m
}()

// Index returns k's position in Specs, or -1 if k is not a documented key.
func Index(k Key) int {
	if i, ok := keyIndex[k]; ok {
		return i
	}
	return -1
}

// Columns returns the audit_events columns of the documented keys, in
// Specs' order.
func Columns() []string {
	cs := make([]string, NumKeys)
	for i, s := range Specs {
		cs[i] = s.Column
	}
	return cs
}

// PII lists the keys that anonymize=true removes. IDs are not PII here: they
// let an analyst correlate events without naming anyone.
var PII = []Key{
	KeyActorEmail, KeyUserEmail, KeyActorIP, KeyEntityName,
	KeyProjectName, KeyReportName, KeyArtifactQualifiedName,
}

// Fields returns the event's keys that have values, in alphabetical order,
// each with its JSON-encoded value. It walks Specs; the chain's canonical
// encoding is the same walk unrolled, and a test holds the two together.
func (e Event) Fields() []Field {
	fs := make([]Field, 0, 8)
	for i, s := range Specs {
		var v []byte
		switch s.Kind {
		case Text:
			if t := *e.Text(i); t != "" {
				v = AppendString(nil, t)
			}
		case Code:
			if e.ResponseCode != 0 {
				v = strconv.AppendInt(nil, int64(e.ResponseCode), 10)
			}
		case Time:
			if !e.Timestamp.IsZero() {
				v = AppendString(nil, e.Timestamp.UTC().Format(time.RFC3339))
			}
		}
		if v != nil {
			fs = append(fs, Field{s.Key, v})
		}
	}
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
		*e.Text(Index(k)) = ""
	}
	return e
}

// Text returns the field holding the value of Specs[i], a key of kind Text,
// and nil for the other kinds (response_code, timestamp). The cases follow
// Event's fields, which follow Specs (TestSpecsFollowEvent).
func (e *Event) Text(i int) *string {
	switch i {
	case 0:
		return (*string)(&e.Action)
	case 1:
		return &e.ActorEmail
	case 2:
		return &e.ActorIP
	case 3:
		return &e.ActorUserID
	case 4:
		return &e.ArtifactAsset
	case 5:
		return &e.ArtifactDigest
	case 6:
		return &e.ArtifactQualifiedName
	case 7:
		return &e.ArtifactSequenceAsset
	case 8:
		return &e.CLIVersion
	case 9:
		return &e.EntityAsset
	case 10:
		return &e.EntityName
	case 11:
		return &e.ProjectAsset
	case 12:
		return &e.ProjectName
	case 13:
		return &e.ReportAsset
	case 14:
		return &e.ReportName
	case 17:
		return &e.UserAsset
	case 18:
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
