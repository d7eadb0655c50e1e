// Command entitymove moves the row types that the domain, the resolvers and
// the HTTP server share out of storage into the leaf package
// internal/entity, and rewrites the module's code to match, so that
// resolvers and internal/server need not import storage. It is the script
// behind the commits that made the move, kept so that it can be run again
// on code written against the old names (a branch merged afterwards):
//
//	go run ./tools/entitymove          # rewrite every .go file of the module
//	go run ./tools/entitymove -move    # the one-time move of the declarations, then the rewrite
//
// The rewrite, which is idempotent, does four things:
//
//   - storage.X becomes entity.X for every moved name X (types, their
//     constants), in every package but storage;
//   - inside package storage, a bare reference to a moved name becomes
//     entity.X;
//   - storage.ErrNotFound, ErrConflict, ErrInvalid and ErrBadCursor become
//     fault.ErrNotFound, … (the same values: the domain's error kinds) in
//     every package outside storage/;
//   - server.Config{Store: st, …} becomes server.Config{Services: app.New(st), …}
//     (once internal/app exists).
//
// Imports are added and dropped as needed; files are gofmt'ed. gqlgen.yml's
// bindings are rewritten too (run make generate afterwards). What it leaves
// to a person: code in internal/server or resolvers that uses the store
// itself (cfg.Store, a service built with New(cfg.Store)) gets the service
// from app.Services instead (add a method there when there is none, as
// Sessions for the sign-in sessions), and an assignment to a Config's Store
// field (c.Store = st) becomes c.Services = app.New(st).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/tools/go/ast/astutil"
)

const (
	module      = "github.com/auditgraph/auditgraph"
	storagePath = module + "/storage"
	entityPath  = module + "/internal/entity"
	faultPath   = module + "/internal/platform/fault"
	serverPath  = module + "/internal/server"
	appPath     = module + "/internal/app"
)

// movedTypes are the row types that move, with their methods.
var movedTypes = []string{
	"Organization", "User", "Membership", "Team", "APIKey", "Rule", "AlertRule",
	"Integration", "ConfigChange", "OutboxAlert", "DeliveryStats",
}

// movedConsts are the constants that move with them.
var movedConsts = []string{
	"IntegrationOK", "IntegrationFailing", "IntegrationRevoked", "IntegrationDisconnected",
	"AlertPending", "AlertDelivered", "AlertFailed", "AlertDropped",
	"ChangeIntegrationConnect", "ChangeIntegrationDisconnect", "ChangeSlackAppUpdate", "ChangeSlackAppClear",
	"ChangeAlertRuleCreate", "ChangeAlertRuleUpdate", "ChangeAlertRuleDelete", "ChangeIntegrationTestAlert",
}

// errorKinds are storage's sentinels that are the domain's error kinds.
var errorKinds = []string{"ErrNotFound", "ErrConflict", "ErrInvalid", "ErrBadCursor"}

func main() {
	move := flag.Bool("move", false, "first move the declarations out of storage/*.go into internal/entity")
	flag.Parse()
	if _, err := os.Stat("go.mod"); err != nil {
		log.Fatal("entitymove: run it from the module root")
	}
	if *move {
		if err := moveDecls(); err != nil {
			log.Fatal("entitymove: ", err)
		}
	}
	n, err := rewriteAll()
	if err != nil {
		log.Fatal("entitymove: ", err)
	}
	if err := rewriteGqlgen(); err != nil {
		log.Fatal("entitymove: ", err)
	}
	fmt.Printf("entitymove: %d files rewritten\n", n)
}

func isMoved(name string) bool {
	return slices.Contains(movedTypes, name) || slices.Contains(movedConsts, name)
}

// moveDecls cuts the moved declarations (with their doc comments) out of
// storage's files and appends them to internal/entity/<same file name>.
func moveDecls() error {
	files, err := filepath.Glob("storage/*.go")
	if err != nil {
		return err
	}
	if err := os.MkdirAll("internal/entity", 0o755); err != nil {
		return err
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
		if err != nil {
			return err
		}
		type span struct{ from, to int }
		var cut []span
		for _, d := range f.Decls {
			take := false
			var doc *ast.CommentGroup
			switch d := d.(type) {
			case *ast.GenDecl:
				doc = d.Doc
				if d.Tok == token.TYPE || d.Tok == token.CONST {
					all := len(d.Specs) > 0
					for _, s := range d.Specs {
						switch s := s.(type) {
						case *ast.TypeSpec:
							all = all && slices.Contains(movedTypes, s.Name.Name)
						case *ast.ValueSpec:
							for _, n := range s.Names {
								all = all && slices.Contains(movedConsts, n.Name)
							}
						}
					}
					take = all
				}
			case *ast.FuncDecl:
				doc = d.Doc
				if d.Recv != nil && len(d.Recv.List) == 1 {
					t := d.Recv.List[0].Type
					if st, ok := t.(*ast.StarExpr); ok {
						t = st.X
					}
					if id, ok := t.(*ast.Ident); ok && slices.Contains(movedTypes, id.Name) {
						take = true
					}
				}
			}
			if !take {
				continue
			}
			from := d.Pos()
			if doc != nil {
				from = doc.Pos()
			}
			cut = append(cut, span{fset.Position(from).Offset, fset.Position(d.End()).Offset})
		}
		if len(cut) == 0 {
			continue
		}
		var moved, kept bytes.Buffer
		last := 0
		for _, c := range cut {
			kept.Write(src[last:c.from])
			moved.Write(src[c.from:c.to])
			moved.WriteString("\n\n")
			last = c.to
		}
		kept.Write(src[last:])
		out := filepath.Join("internal/entity", filepath.Base(name))
		head := "package entity\n\nimport \"time\"\n\n"
		code, err := format.Source(append([]byte(head), moved.Bytes()...))
		if err != nil {
			return fmt.Errorf("%s: %w", out, err)
		}
		if err := os.WriteFile(out, code, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(name, kept.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// rewriteAll rewrites every .go file of the module but internal/entity's.
func rewriteAll() (int, error) {
	n := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch base := d.Name(); {
			case path != "." && (strings.HasPrefix(base, ".") || base == "testdata" || base == "node_modules" || base == "vendor"):
				return filepath.SkipDir
			case filepath.ToSlash(path) == "internal/entity":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		changed, err := rewriteFile(filepath.ToSlash(path))
		if changed {
			n++
		}
		return err
	})
	return n, err
}

func importName(f *ast.File, path string) string {
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		if p != path {
			continue
		}
		if im.Name != nil {
			return im.Name.Name
		}
		return path[strings.LastIndex(path, "/")+1:]
	}
	return ""
}

func rewriteFile(path string) (bool, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return false, err
	}
	dir := filepath.ToSlash(filepath.Dir(path))
	inStorage := dir == "storage" && f.Name.Name == "storage"
	underStorage := dir == "storage" || strings.HasPrefix(dir, "storage/")
	storageName := importName(f, storagePath)
	serverName := importName(f, serverPath)
	inServer := dir == "internal/server" && f.Name.Name == "server"
	_, err = os.Stat("internal/app")
	haveApp := err == nil
	var needEntity, needFault, needApp, changed bool

	// Bare references to moved names inside package storage.
	if inStorage {
		skip := map[*ast.Ident]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				skip[n.Sel] = true
			case *ast.Field:
				for _, id := range n.Names {
					skip[id] = true
				}
			case *ast.FuncDecl:
				skip[n.Name] = true
			case *ast.TypeSpec:
				skip[n.Name] = true
			case *ast.ValueSpec:
				for _, id := range n.Names {
					skip[id] = true
				}
			case *ast.KeyValueExpr:
				// A struct literal's field key (Rule: r) is not a reference;
				// a map literal's constant key is.
				if id, ok := n.Key.(*ast.Ident); ok && slices.Contains(movedTypes, id.Name) {
					skip[id] = true
				}
			}
			return true
		})
		astutil.Apply(f, func(c *astutil.Cursor) bool {
			id, ok := c.Node().(*ast.Ident)
			if !ok || skip[id] || !isMoved(id.Name) || id.Obj != nil && id.Obj.Kind == ast.Var {
				return true
			}
			if _, isFile := c.Parent().(*ast.File); isFile {
				return true
			}
			c.Replace(&ast.SelectorExpr{X: ast.NewIdent("entity"), Sel: ast.NewIdent(id.Name)})
			needEntity, changed = true, true
			return false
		}, nil)
	}

	astutil.Apply(f, func(c *astutil.Cursor) bool {
		switch n := c.Node().(type) {
		case *ast.SelectorExpr:
			x, ok := n.X.(*ast.Ident)
			if !ok || storageName == "" || x.Name != storageName || x.Obj != nil {
				return true
			}
			switch {
			case isMoved(n.Sel.Name):
				c.Replace(&ast.SelectorExpr{X: ast.NewIdent("entity"), Sel: ast.NewIdent(n.Sel.Name)})
				needEntity, changed = true, true
			case slices.Contains(errorKinds, n.Sel.Name) && !underStorage:
				c.Replace(&ast.SelectorExpr{X: ast.NewIdent("fault"), Sel: ast.NewIdent(n.Sel.Name)})
				needFault, changed = true, true
			}
		case *ast.CompositeLit:
			isConfig := false
			switch t := n.Type.(type) {
			case *ast.SelectorExpr:
				x, ok := t.X.(*ast.Ident)
				isConfig = ok && serverName != "" && x.Name == serverName && t.Sel.Name == "Config"
			case *ast.Ident:
				isConfig = inServer && t.Name == "Config"
			}
			if !isConfig || !haveApp {
				return true
			}
			for _, e := range n.Elts {
				kv, ok := e.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Store" {
					k.Name = "Services"
					kv.Value = &ast.CallExpr{Fun: &ast.SelectorExpr{X: ast.NewIdent("app"), Sel: ast.NewIdent("New")}, Args: []ast.Expr{kv.Value}}
					needApp, changed = true, true
				}
			}
		}
		return true
	}, nil)
	if !changed {
		return false, nil
	}
	if needEntity {
		astutil.AddImport(fset, f, entityPath)
	}
	if needFault && f.Name.Name != "fault" {
		astutil.AddImport(fset, f, faultPath)
	}
	if needApp {
		astutil.AddImport(fset, f, appPath)
	}
	if inStorage && !astutil.UsesImport(f, "time") {
		// The moved declarations took the file's only use of time.
		astutil.DeleteImport(fset, f, "time")
	}
	if storageName != "" && !astutil.UsesImport(f, storagePath) {
		astutil.DeleteImport(fset, f, storagePath)
	}
	var buf bytes.Buffer
	if err := format.Node(&buf, fset, f); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	out, err := format.Source(buf.Bytes())
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	if bytes.Equal(out, src) {
		return false, nil
	}
	return true, os.WriteFile(path, out, 0o644)
}

// rewriteGqlgen points gqlgen.yml's bindings of moved types at entity.
func rewriteGqlgen() error {
	src, err := os.ReadFile("gqlgen.yml")
	if err != nil {
		return err
	}
	s := string(src)
	names := slices.Clone(movedTypes)
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	for _, t := range names {
		s = strings.ReplaceAll(s, "model: "+storagePath+"."+t+"\n", "model: "+entityPath+"."+t+"\n")
	}
	if s == string(src) {
		return nil
	}
	return os.WriteFile("gqlgen.yml", []byte(s), 0o644)
}
