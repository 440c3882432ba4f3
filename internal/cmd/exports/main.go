// Command exports counts the exported names of each package of the module:
// its top-level names (every const, var, func and type name, each name of
// a grouped declaration counted once) and, separately, the exported
// methods of its exported types. Packages under internal/ and examples/,
// main packages and _test.go files are left out: they are not the API.
//
// Usage:
//
//	go run ./internal/cmd/exports [-v] [dir]
//
// dir is the module's root (default "."); -v lists the names. To count
// another commit: git archive COMMIT | tar -x -C /tmp/tree, then
// go run ./internal/cmd/exports /tmp/tree.
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
)

// pkg is what one package exports.
type pkg struct {
	names   []string // top-level: "const X", "func F", ...
	methods []string // "T.M"
}

func main() {
	verbose := flag.Bool("v", false, "list the names")
	flag.Parse()
	root := "."
	if flag.NArg() > 0 {
		root = flag.Arg(0)
	}
	pkgs, err := count(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "exports:", err)
		os.Exit(1)
	}
	dirs := make([]string, 0, len(pkgs))
	for d := range pkgs {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "package\ttop-level\tconst\tvar\tfunc\ttype\tmethods\t")
	var total, totalMethods int
	kinds := []string{"const", "var", "func", "type"}
	for _, d := range dirs {
		p := pkgs[d]
		fmt.Fprintf(tw, "%s\t%d\t", d, len(p.names))
		for _, k := range kinds {
			n := 0
			for _, name := range p.names {
				if strings.HasPrefix(name, k+" ") {
					n++
				}
			}
			fmt.Fprintf(tw, "%d\t", n)
		}
		fmt.Fprintf(tw, "%d\t\n", len(p.methods))
		total += len(p.names)
		totalMethods += len(p.methods)
	}
	fmt.Fprintf(tw, "total\t%d\t\t\t\t\t%d\t\n", total, totalMethods)
	tw.Flush()
	if *verbose {
		for _, d := range dirs {
			p := pkgs[d]
			fmt.Printf("\n%s (%d top-level, %d methods)\n", d, len(p.names), len(p.methods))
			for _, n := range p.names {
				fmt.Println("\t" + n)
			}
			for _, m := range p.methods {
				fmt.Println("\tmethod " + m)
			}
		}
	}
}

// count parses every package under root.
func count(root string) (map[string]*pkg, error) {
	pkgs := make(map[string]*pkg)
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			base := d.Name()
			if rel != "." && (strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_") || base == "testdata" ||
				base == "internal" || rel == "examples") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		p := pkgs[dir]
		if p == nil {
			p = &pkg{}
			pkgs[dir] = p
		}
		add(p, f)
		return nil
	})
	for _, p := range pkgs {
		slices.Sort(p.names)
		slices.Sort(p.methods)
	}
	return pkgs, err
}

// add records f's exported names in p.
func add(p *pkg, f *ast.File) {
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() {
				continue
			}
			if d.Recv == nil {
				p.names = append(p.names, "func "+d.Name.Name)
				continue
			}
			if recv := recvType(d.Recv.List[0].Type); ast.IsExported(recv) {
				p.methods = append(p.methods, recv+"."+d.Name.Name)
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					if s.Name.IsExported() {
						p.names = append(p.names, "type "+s.Name.Name)
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() {
							p.names = append(p.names, d.Tok.String()+" "+n.Name)
						}
					}
				}
			}
		}
	}
}

// recvType is the name of a method's receiver type.
func recvType(e ast.Expr) string {
	for {
		switch t := e.(type) {
		case *ast.StarExpr:
			e = t.X
		case *ast.IndexExpr:
			e = t.X
		case *ast.IndexListExpr:
			e = t.X
		case *ast.ParenExpr:
			e = t.X
		case *ast.Ident:
			return t.Name
		default:
			return ""
		}
	}
}
