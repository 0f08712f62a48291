package web

import (
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"path"
	"regexp"
	"strings"
)

// views renders the embedded templates for Fiber. Every page is composed
// with every layout once, when the server starts, into a template of its
// own: a render is then one Execute, with no lock and nothing rebuilt. (The
// html engine of gofiber/template rebinds the layout's embed function on
// each render under an exclusive lock, so that every page render of the
// server waited for the one before it.)
//
// Templates are named by their path without ".html" ("guest_post",
// "layouts/guest"); a layout shows its page where it says {{embed}}.
type views struct {
	fsys fs.FS
	// page alone, by name; composed, by layout and page.
	page     *template.Template
	composed map[viewKey]*template.Template
}

type viewKey struct{ layout, page string }

// layoutDir holds the layouts; every other template is a page or a partial.
const layoutDir = "layouts/"

// embedCall is where a layout shows its page.
var embedCall = regexp.MustCompile(`\{\{-?\s*embed\s*-?\}\}`)

func newViews(fsys fs.FS) *views { return &views{fsys: fsys} }

// Load parses every template and composes every page with every layout;
// any error fails the start. New calls it; the call Fiber makes again when
// the app starts keeps what the first one made.
func (v *views) Load() error {
	if v.page != nil {
		return nil
	}
	root := template.New("").Funcs(templateFuncs).Funcs(template.FuncMap{
		"embed": func() (string, error) { return "", fmt.Errorf("embed called outside a layout") },
	})
	layouts := map[string]string{}
	var pages []string
	err := fs.WalkDir(v.fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".html" {
			return err
		}
		b, err := fs.ReadFile(v.fsys, p)
		if err != nil {
			return err
		}
		name := strings.TrimSuffix(p, ".html")
		if strings.HasPrefix(name, layoutDir) {
			// A layout is parsed only composed with a page.
			layouts[name] = string(b)
			return nil
		}
		if _, err := root.New(name).Parse(string(b)); err != nil {
			return err
		}
		pages = append(pages, name)
		return nil
	})
	if err != nil {
		return err
	}
	v.composed = make(map[viewKey]*template.Template, len(layouts)*len(pages))
	for layout, text := range layouts {
		if n := len(embedCall.FindAllStringIndex(text, -1)); n != 1 || strings.Count(text, "embed") != 1 {
			return fmt.Errorf("layout %s: want exactly one {{embed}}, found %d", layout, n)
		}
		for _, page := range pages {
			t, err := root.Clone()
			if err != nil {
				return err
			}
			body := embedCall.ReplaceAllLiteralString(text, `{{template "`+page+`" $}}`)
			if t, err = t.New(layout).Parse(body); err != nil {
				return fmt.Errorf("layout %s: %w", layout, err)
			}
			v.composed[viewKey{layout, page}] = t
		}
	}
	// Executed only after every clone is made (html/template refuses to
	// clone a template set that has run).
	v.page = root
	return nil
}

// Render writes the page name, inside the first layout given if any.
func (v *views) Render(out io.Writer, name string, binding any, layout ...string) error {
	if len(layout) == 0 || layout[0] == "" {
		t := v.page.Lookup(name)
		if t == nil {
			return fmt.Errorf("render: template %s does not exist", name)
		}
		return t.Execute(out, binding)
	}
	t, ok := v.composed[viewKey{layout[0], name}]
	if !ok {
		return fmt.Errorf("render: template %s in layout %s does not exist", name, layout[0])
	}
	return t.ExecuteTemplate(out, layout[0], binding)
}
