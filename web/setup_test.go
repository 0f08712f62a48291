package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"hubshare/acl"
)

// First run in the browser: while the hub has no member, "/" offers to
// create the first account, which needs the one-time code the server prints
// in its log; a wrong code creates nothing and counts as a failed sign-in;
// once the account exists, the code is spent and "/" leads to the sign-in page.
func TestFirstRunCreatesTheFirstMemberWithTheSetupCode(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		code, ok, err := e.srv.SetupCode(ctx)
		if err != nil || !ok || len(code) != 17 {
			t.Fatalf("SetupCode on a hub without members: %q %v %v", code, ok, err)
		}
		if again, _, _ := e.srv.SetupCode(ctx); again != code {
			t.Errorf("the setup code changed from %q to %q", code, again)
		}
		cl := e.client()
		body := gtStatus(t, "/ on a new hub", cl.get("/"), http.StatusOK)
		if !strings.Contains(body, `action="/setup"`) || !strings.Contains(body, `name="code"`) {
			t.Fatalf("/ on a new hub is not the first-run form:\n%s", gtShort(body))
		}
		form := func(code, password2 string) url.Values {
			return url.Values{"code": {code}, "handle": {"alice"}, "display_name": {"Alice"},
				"password": {"a long passphrase"}, "password2": {password2}}
		}
		body = gtStatus(t, "a wrong setup code", cl.postForm("/setup", form("AAAAA-BBBBB-CCCCC", "a long passphrase"), "/"), http.StatusUnauthorized)
		if !strings.Contains(body, "setup code is not right") {
			t.Errorf("the answer to a wrong code:\n%s", gtShort(body))
		}
		gtStatus(t, "passwords that differ", cl.postForm("/setup", form(code, "another passphrase"), "/"), http.StatusUnprocessableEntity)
		if has, err := e.svc.HasMembers(ctx); err != nil || has {
			t.Fatalf("refused first-run forms created a member: %v %v", has, err)
		}

		// The code as a person types it: lower case, without the dashes.
		typed := strings.ToLower(strings.ReplaceAll(code, "-", ""))
		resp := cl.postForm("/setup", form(typed, "a long passphrase"), "/")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Fatalf("the right code: status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		body = gtStatus(t, "home after the first run", cl.get("/"), http.StatusOK)
		if !strings.Contains(body, "Sign out") {
			t.Errorf("the new member is not signed in:\n%s", gtShort(body))
		}
		if _, err := e.svc.Login(ctx, "alice", "a long passphrase", "192.0.2.1"); err != nil {
			t.Errorf("the first member cannot sign in: %v", err)
		}

		other := e.client()
		resp = other.get("/")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Errorf("/ signed out once a member exists: status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if _, ok, _ := e.srv.SetupCode(ctx); ok {
			t.Errorf("the setup code is still open after the first member")
		}
		f := form(code, "a long passphrase")
		f.Set("handle", "mallory")
		gtStatus(t, "the spent code", other.postForm("/setup", f, "/login"), http.StatusNotFound)
	})
}

// Wrong setup codes count as failed sign-ins of the network (SECURITY 15).
func TestSetupCodeGuessesAreThrottled(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		if _, _, err := e.srv.SetupCode(context.Background()); err != nil {
			t.Fatal(err)
		}
		cl := e.client()
		f := url.Values{"code": {"AAAAA-BBBBB-CCCCC"}, "handle": {"alice"}, "password": {"a long passphrase"}, "password2": {"a long passphrase"}}
		for i := 0; i < acl.NetworkFailureLimit; i++ {
			gtStatus(t, "a wrong code", cl.postForm("/setup", f, "/"), http.StatusUnauthorized)
		}
		gtWantThrottled(t, "a guess past the threshold", cl.postForm("/setup", f, "/"))
	})
}

// However many browsers race for the first account, exactly one gets it.
func TestCreateFirstMemberHasOneWinner(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		const n = 8
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			go func(i int) {
				_, err := e.svc.CreateFirstMember(context.Background(), "first"+string(rune('a'+i)), "", "a long passphrase")
				errs <- err
			}(i)
		}
		won := 0
		for i := 0; i < n; i++ {
			err := <-errs
			switch {
			case err == nil:
				won++
			case err != acl.ErrHubHasMembers:
				t.Errorf("a losing first sign-up: %v, want ErrHubHasMembers", err)
			}
		}
		if won != 1 {
			t.Errorf("%d first members created, want exactly 1", won)
		}
	})
}
