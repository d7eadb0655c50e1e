package model

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/auditgraph/auditgraph/audit"
)

// TestAuditEventFollowsSpecs holds AuditEvent's methods to audit.Specs: one
// per documented key, named after it, answering that key and no other.
func TestAuditEventFollowsSpecs(t *testing.T) {
	typ := reflect.TypeFor[*AuditEvent]()
	if want := audit.NumKeys + 3; typ.NumMethod() != want { // and Sequence, JSON, Event
		t.Errorf("AuditEvent has %d methods, want %d: one per key of audit.Specs, Sequence, JSON and Event", typ.NumMethod(), want)
	}
	method := func(k audit.Key) reflect.Method {
		for i := range typ.NumMethod() {
			if m := typ.Method(i); strings.EqualFold(m.Name, strings.ReplaceAll(string(k), "_", "")) {
				return m
			}
		}
		t.Fatalf("AuditEvent has no method for the key %s", k)
		return reflect.Method{}
	}
	for i, k := range audit.Specs {
		t.Run(string(k.Key), func(t *testing.T) {
			var e audit.Event
			f := reflect.ValueOf(&e).Elem().Field(i)
			switch k.Kind {
			case audit.Code:
				f.SetInt(201)
			case audit.Time:
				f.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
			default:
				f.SetString("v")
			}
			a := NewAuditEvent(7, e)
			for _, other := range audit.Specs {
				got := method(other.Key).Func.Call([]reflect.Value{reflect.ValueOf(&a)})[0]
				if set := !got.IsZero(); set != (other.Key == k.Key) {
					t.Errorf("with only %s set, the method for %s answers %v", k.Key, other.Key, got)
				}
			}
		})
	}
}

// TestSchemaAuditEventHasEveryKey checks that the schema's AuditEvent type
// has a field for every key of audit.Specs.
func TestSchemaAuditEventHasEveryKey(t *testing.T) {
	src, err := os.ReadFile("../../schema/auditevent.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parser.ParseSchema(&ast.Source{Name: "auditevent.graphqls", Input: string(src)})
	if err != nil {
		t.Fatal(err)
	}
	def := doc.Definitions.ForName("AuditEvent")
	if def == nil {
		t.Fatal("schema/auditevent.graphqls has no type AuditEvent")
	}
	for _, k := range audit.Keys {
		name := strings.ReplaceAll(string(k), "_", "")
		if !hasField(def.Fields, name) {
			t.Errorf("type AuditEvent has no field for the key %s", k)
		}
	}
}

func hasField(fs ast.FieldList, name string) bool {
	for _, f := range fs {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}
