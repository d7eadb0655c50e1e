// Command gqlgen runs gqlgen's code generation (gqlgen.yml, as `go tool
// gqlgen generate` does) and then makes the generated list marshallers of
// object types marshal element by element when the query lets them (see
// internal/platform/gqlslice). `make generate` and `go generate` run it;
// `make check-generated` fails when graph/ differs from what it writes.
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"log"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
	"github.com/vektah/gqlparser/v2/ast"
)

const (
	sliceImport = `"github.com/auditgraph/auditgraph/internal/platform/gqlslice"`
	concurrent  = "graphql.MarshalSliceConcurrently(ctx, len(v), "
)

// capture is a gqlgen plugin that keeps the data the code is generated from.
type capture struct{ data *codegen.Data }

func (*capture) Name() string                         { return "gqlslice" }
func (c *capture) GenerateCode(d *codegen.Data) error { c.data = d; return nil }

func main() {
	log.SetFlags(0)
	cfg, err := config.LoadConfigFromDefaultLocations()
	if err != nil {
		log.Fatalf("gqlgen: %v", err)
	}
	c := &capture{}
	if err := api.Generate(cfg, api.AddPlugin(c)); err != nil {
		log.Fatalf("gqlgen: %v", err)
	}
	file := cfg.Exec.Filename
	src, err := os.ReadFile(file)
	if err != nil {
		log.Fatal(err)
	}
	out, err := rewrite(src, c.data)
	if err != nil {
		log.Fatalf("gqlgen: %s: %v", file, err)
	}
	if err := os.WriteFile(file, out, 0o644); err != nil {
		log.Fatal(err)
	}
}

// rewrite replaces gqlgen's concurrent marshalling in the list marshaller of
// each object type by gqlslice.Marshal, passing the set of the object's
// concurrent fields, declared once per object at the end of the file.
func rewrite(src []byte, d *codegen.Data) ([]byte, error) {
	fields := map[string][]string{}
	for _, o := range d.Objects {
		var names []string
		for _, f := range o.Fields {
			if f.IsConcurrent() {
				names = append(names, f.Name)
			}
		}
		fields[o.Name] = names
	}
	s := string(src)
	used := map[string]bool{}
	for _, key := range slices.Sorted(maps.Keys(d.ReferencedTypes)) {
		t := d.ReferencedTypes[key]
		if !t.IsSlice() || t.IsScalar() || t.Elem() == nil || t.Elem().Definition == nil || t.Elem().Definition.Kind != ast.Object {
			continue
		}
		obj := t.Elem().Definition.Name
		if _, ok := fields[obj]; !ok {
			continue
		}
		head := "func (ec *executionContext) " + t.MarshalFunc() + "("
		start := strings.Index(s, head)
		if start < 0 {
			continue // not generated: the list type is only an input
		}
		end := start + strings.Index(s[start:], "\n}\n")
		call := strings.Index(s[start:end], concurrent)
		if call < 0 {
			return nil, fmt.Errorf("%s: no %s", t.MarshalFunc(), concurrent)
		}
		call += start
		s = s[:call] + "gqlslice.Marshal(ctx, sel, concurrent" + obj + ", len(v), " + s[call+len(concurrent):]
		used[obj] = true
	}
	if len(used) == 0 {
		return nil, fmt.Errorf("no list marshaller of an object type found")
	}
	var b bytes.Buffer
	b.WriteString(s)
	b.WriteString("\n// The concurrent fields (resolvers, methods taking a context) of each object\n" +
		"// type marshalled in a list; gqlslice.Marshal goes element by element when a\n" +
		"// query selects none of them. Written by tools/gqlgen.\nvar (\n")
	for _, obj := range slices.Sorted(maps.Keys(used)) {
		fmt.Fprintf(&b, "\tconcurrent%s = map[string]bool{", obj)
		for i, f := range fields[obj] {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q: true", f)
		}
		b.WriteString("}\n")
	}
	b.WriteString(")\n")
	out := b.String()
	imp := strings.Index(out, "import (\n")
	if imp < 0 {
		return nil, fmt.Errorf("no import block")
	}
	imp += len("import (\n")
	out = out[:imp] + "\t" + sliceImport + "\n" + out[imp:]
	return format.Source([]byte(out))
}
