package web

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestViewsComposePagesWithLayouts(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"layouts/main.html": {Data: []byte(`<main>{{with .List}}{{range .}}[{{.}}]{{end}}{{embed}}{{end}}</main>`)},
		"page.html":         {Data: []byte(`<p>{{.Text}}</p>{{template "part" .}}`)},
		"part.html":         {Data: []byte(`{{define "part"}}<i>{{lower .Text}}</i>{{end}}`)},
	}
	v := newViews(fsys)
	if err := v.Load(); err != nil {
		t.Fatal(err)
	}
	data := map[string]any{"Text": "A<B", "List": []int{1, 2}}
	var b strings.Builder
	// {{embed}} inside the layout sees the page's own data, whatever the
	// layout's dot is at that point.
	if err := v.Render(&b, "page", data, "layouts/main"); err != nil {
		t.Fatal(err)
	}
	if want := `<main>[1][2]<p>A&lt;B</p><i>a&lt;b</i></main>`; b.String() != want {
		t.Errorf("page in layout = %q, want %q", b.String(), want)
	}
	b.Reset()
	if err := v.Render(&b, "page", data); err != nil {
		t.Fatal(err)
	}
	if want := `<p>A&lt;B</p><i>a&lt;b</i>`; b.String() != want {
		t.Errorf("page alone = %q, want %q", b.String(), want)
	}
	if err := v.Render(&b, "nope", data, "layouts/main"); err == nil {
		t.Error("an unknown page rendered")
	}
	if err := v.Render(&b, "page", data, "layouts/nope"); err == nil {
		t.Error("an unknown layout rendered")
	}
}

func TestViewsRefuseALayoutWithoutOneEmbed(t *testing.T) {
	t.Parallel()
	for _, layout := range []string{`<main></main>`, `{{embed}}{{embed}}`} {
		v := newViews(fstest.MapFS{"layouts/x.html": {Data: []byte(layout)}, "p.html": {Data: []byte(`p`)}})
		if err := v.Load(); err == nil {
			t.Errorf("layout %q loaded", layout)
		}
	}
	v := newViews(fstest.MapFS{"p.html": {Data: []byte(`{{if}}`)}})
	if err := v.Load(); err == nil {
		t.Error("a broken page loaded")
	}
}
