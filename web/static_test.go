package web_test

import (
	"os"
	"strings"
	"testing"
)

// The stylesheet's blocks are balanced, and every comment written at the
// start of a line (a section heading) is at the top level: one missing brace
// silently moves every rule after it into a media query.
func TestStylesheetBlocksAreBalanced(t *testing.T) {
	b, err := os.ReadFile("static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	depth, line := 0, 1
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "/*"):
			if (i == 0 || s[i-1] == '\n') && depth > 0 {
				t.Errorf("line %d: a section comment inside an open block", line)
			}
			end := strings.Index(s[i:], "*/")
			if end < 0 {
				t.Fatalf("line %d: a comment that never ends", line)
			}
			line += strings.Count(s[i:i+end], "\n")
			i += end + 1
		case s[i] == '{':
			depth++
		case s[i] == '}':
			if depth--; depth < 0 {
				t.Fatalf("line %d: a closing brace with nothing open", line)
			}
		case s[i] == '\n':
			line++
		}
	}
	if depth != 0 {
		t.Errorf("the stylesheet ends with %d open blocks", depth)
	}
}
