package web_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	fiberlog "github.com/gofiber/fiber/v2/log"

	"hubshare/app"
	"hubshare/web"
)

// What Fiber prints on its own reaches the service's logger at its level,
// without Fiber's own time stamp and level prefix.
func TestFiberMessagesGoThroughTheLogger(t *testing.T) {
	var buf bytes.Buffer
	log, err := app.NewLogger(&buf, app.LogFormatJSON, "debug")
	if err != nil {
		t.Fatal(err)
	}
	web.RouteFiberLogs(log)
	t.Cleanup(func() {
		fiberlog.SetOutput(os.Stderr)
		app.SetLibraryLogger(nil)
	})
	fiberlog.Warnf("IP range %q could not be parsed", "10.0.0.0/33")
	fiberlog.Errorf("serverErrorHandler: failed to call ErrorHandler: %v", "boom")

	var got []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec struct{ Level, Msg, Library string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		got = append(got, rec.Library+" "+rec.Level+" "+rec.Msg)
	}
	want := []string{
		`fiber WARN IP range "10.0.0.0/33" could not be parsed`,
		`fiber ERROR serverErrorHandler: failed to call ErrorHandler: boom`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("logged:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
