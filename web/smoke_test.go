package web_test

import (
	"net/http"
	"testing"
)

func TestLoginAndHome(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.member("alice")
		cl := e.client()
		if resp := cl.get("/"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Fatalf("signed out home: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		cl.login("alice")
		resp := cl.get("/")
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("home: %d %s", resp.StatusCode, body)
		}
	})
}
