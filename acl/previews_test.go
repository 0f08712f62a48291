package acl_test

import (
	"os"
	"strings"
	"testing"

	"hubshare/acl"
)

// previewAgents reads testdata/preview_agents.tsv: a real User-Agent of
// every known preview and scanner agent with its family, and ordinary
// browsers (family "-"). The web tests send each of them too.
func previewAgents(t *testing.T) (agents [][2]string, browsers []string) {
	t.Helper()
	b, err := os.ReadFile("testdata/preview_agents.tsv")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ua, family, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		if family == "-" {
			browsers = append(browsers, ua)
		} else {
			agents = append(agents, [2]string{ua, family})
		}
	}
	return agents, browsers
}

func TestPreviewAgentFamilies(t *testing.T) {
	t.Parallel()
	agents, browsers := previewAgents(t)
	if len(agents) < 30 || len(browsers) < 5 {
		t.Fatalf("%d agents and %d browsers read", len(agents), len(browsers))
	}
	for _, a := range agents {
		t.Run(a[1]+"/"+a[0], func(t *testing.T) {
			got, ok := acl.PreviewFamily(a[0])
			if !ok || got != a[1] {
				t.Errorf("PreviewFamily(%q) = %q, %v; want %q", a[0], got, ok, a[1])
			}
		})
	}
	for _, ua := range browsers {
		if got, ok := acl.PreviewFamily(ua); ok {
			t.Errorf("PreviewFamily(%q) = %q: a person's browser taken for a preview", ua, got)
		}
	}
}
