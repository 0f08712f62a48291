package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"hubshare/acl"
	"hubshare/app/database/dbtest"
)

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// wantAPIError checks an API error response: status, JSON content type, the
// {"error":{"code","message"}} shape and the code.
func wantAPIError(t *testing.T, what string, resp *http.Response, status int, code string) apiError {
	t.Helper()
	body := readBody(t, resp)
	if resp.StatusCode != status {
		t.Errorf("%s: status %d, want %d\n%s", what, resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want JSON", what, ct)
	}
	var shape map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &shape); err != nil || len(shape) != 1 || shape["error"] == nil {
		t.Fatalf("%s: body is not {\"error\": ...}: %s", what, body)
	}
	var e apiError
	if err := json.Unmarshal(shape["error"], &e); err != nil {
		t.Fatalf("%s: %v: %s", what, err, body)
	}
	if e.Code != code || e.Message == "" {
		t.Errorf("%s: error %+v, want code %q and a message", what, e, code)
	}
	return e
}

func decodeJSONBody(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	body := readBody(t, resp)
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}

func TestAPITokenLifecycle(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := e.member("alice")
		read := e.apiToken(alice, "read")
		resp := e.api(read, http.MethodGet, "/api/v1/me", "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/me: status %d", resp.StatusCode)
		}
		var me struct {
			ID     int64  `json:"id"`
			Handle string `json:"handle"`
			Token  struct {
				Scopes []string `json:"scopes"`
			} `json:"token"`
		}
		decodeJSONBody(t, resp, &me)
		if me.ID != alice.ID || me.Handle != "alice" || len(me.Token.Scopes) != 1 || me.Token.Scopes[0] != "read" {
			t.Errorf("/me = %+v", me)
		}

		target, _, err := e.svc.CreateAPIToken(ctx, alice.ID, "to revoke", "read", nil)
		if err != nil {
			t.Fatal(err)
		}
		path := fmt.Sprintf("/api/v1/apitokens/%d", target.ID)
		wantAPIError(t, "DELETE with a read token", e.api(read, http.MethodDelete, path, ""), http.StatusForbidden, "forbidden")

		write := e.apiToken(alice, "write")
		resp = e.api(write, http.MethodDelete, fmt.Sprintf("/api/v1/apitokens/%d", mustTokenID(t, e, alice.ID, read)), "")
		if b := readBody(t, resp); resp.StatusCode != http.StatusNoContent || b != "" {
			t.Fatalf("revoke: status %d body %q, want 204 and no body", resp.StatusCode, b)
		}
		wantAPIError(t, "the revoked token's next request", e.api(read, http.MethodGet, "/api/v1/me", ""), http.StatusUnauthorized, "unauthorized")
		wantStatus(t, "revoking it again", e.api(write, http.MethodDelete, fmt.Sprintf("/api/v1/apitokens/%d", mustTokenID(t, e, alice.ID, read)), ""), http.StatusNoContent)
		wantAPIError(t, "the revoked token after a second revocation", e.api(read, http.MethodGet, "/api/v1/me", ""), http.StatusUnauthorized, "unauthorized")
		wantStatus(t, "the write token still works", e.api(write, http.MethodGet, "/api/v1/me", ""), http.StatusOK)
		wantAPIError(t, "revoking an unknown id", e.api(write, http.MethodDelete, "/api/v1/apitokens/999999", ""), http.StatusNotFound, "not_found")
		wantAPIError(t, "revoking a non-numeric id", e.api(write, http.MethodDelete, "/api/v1/apitokens/abc", ""), http.StatusNotFound, "not_found")
	})
}

// mustTokenID finds the id of the member's token with the secret, through
// the API listing's order (newest first) and the secret's lookup hash.
func mustTokenID(t *testing.T, e *env, memberID int64, secret string) int64 {
	t.Helper()
	ts, err := e.svc.ListAPITokens(context.Background(), memberID)
	if err != nil {
		t.Fatal(err)
	}
	want := acl.LookupHash(e.keys.Lookup, secret)
	for _, tk := range ts {
		if string(tk.TokenHash) == string(want) {
			return tk.ID
		}
	}
	t.Fatalf("no token of member %d has that secret", memberID)
	return 0
}

func TestAPITokenExpires(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := e.member("alice")
		exp := e.clock.Now().Add(time.Hour)
		_, secret, err := e.svc.CreateAPIToken(context.Background(), alice.ID, "short-lived", "read", &exp)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "before the expiry", e.api(secret, http.MethodGet, "/api/v1/me", ""), http.StatusOK)
		e.clock.Advance(time.Hour - time.Second)
		wantStatus(t, "a second before the expiry", e.api(secret, http.MethodGet, "/api/v1/me", ""), http.StatusOK)
		e.clock.Advance(time.Second)
		wantAPIError(t, "at the expiry", e.api(secret, http.MethodGet, "/api/v1/me", ""), http.StatusUnauthorized, "unauthorized")
	})
}

func TestAPIRejectsMalformedOrMisplacedTokens(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := e.member("alice")
		good := e.apiToken(alice, "write")
		mutated := good[:len(good)-1] + map[bool]string{true: "B", false: "A"}[strings.HasSuffix(good, "A")]
		send := func(what string, header map[string]string, path string) {
			t.Helper()
			req := httptest.NewRequest(http.MethodGet, path, nil)
			for k, v := range header {
				req.Header.Set(k, v)
			}
			resp, err := e.test(req)
			if err != nil {
				t.Fatal(err)
			}
			wantAPIError(t, what, resp, http.StatusUnauthorized, "unauthorized")
		}
		send("no credentials", nil, "/api/v1/me")
		send("short token", map[string]string{"Authorization": "Bearer hsp_short"}, "/api/v1/me")
		send("checksum broken", map[string]string{"Authorization": "Bearer " + mutated}, "/api/v1/me")
		send("guest token as API token", map[string]string{"Authorization": "Bearer " + acl.NewSecret(acl.GuestTokenPrefix)}, "/api/v1/me")
		send("unknown well-formed token", map[string]string{"Authorization": "Bearer " + acl.NewSecret(acl.APITokenPrefix)}, "/api/v1/me")
		send("no Bearer scheme", map[string]string{"Authorization": good}, "/api/v1/me")
		send("Basic scheme", map[string]string{"Authorization": "Basic " + good}, "/api/v1/me")
		send("token in a cookie", map[string]string{"Cookie": "hs_session=" + good + "; token=" + good + "; Authorization=" + good}, "/api/v1/me")
		send("token in access_token", nil, "/api/v1/me?access_token="+good)
		send("token in a custom header", map[string]string{"X-API-Token": good}, "/api/v1/me")
		wantStatus(t, "the same token sent properly", e.api(good, http.MethodGet, "/api/v1/me", ""), http.StatusOK)
	})
}

func TestAPITokenOfAnotherMemberCannotRevokeMine(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice, bob := e.member("alice"), e.member("bob")
		mine := e.apiToken(alice, "read")
		theirs := e.apiToken(bob, "write")
		id := mustTokenID(t, e, alice.ID, mine)
		wantAPIError(t, "bob revoking alice's token", e.api(theirs, http.MethodDelete, fmt.Sprintf("/api/v1/apitokens/%d", id), ""), http.StatusNotFound, "not_found")
		wantStatus(t, "alice's token after bob's attempt", e.api(mine, http.MethodGet, "/api/v1/me", ""), http.StatusOK)
		resp := e.api(theirs, http.MethodGet, "/api/v1/apitokens", "")
		var list struct {
			APITokens []struct {
				ID int64 `json:"id"`
			} `json:"apitokens"`
		}
		decodeJSONBody(t, resp, &list)
		for _, tk := range list.APITokens {
			if tk.ID == id {
				t.Errorf("bob's listing shows alice's token %d", id)
			}
		}
	})
}

func TestAPIIgnoresSessionCookie(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		e.member("alice")
		cl := e.client()
		cl.login("alice")
		wantStatus(t, "home with the session", cl.get("/"), http.StatusOK)
		wantAPIError(t, "/api/v1/me with a session cookie only", cl.get("/api/v1/me"), http.StatusUnauthorized, "unauthorized")
		wantAPIError(t, "/api/v1/apitokens with a session cookie only", cl.get("/api/v1/apitokens"), http.StatusUnauthorized, "unauthorized")
		req := httptest.NewRequest(http.MethodDelete, "/api/v1/apitokens/1", nil)
		req.Header.Set("X-CSRF-Token", cl.csrf("/"))
		wantAPIError(t, "DELETE with a session cookie and a CSRF token", cl.do(req), http.StatusUnauthorized, "unauthorized")
	})
}

func TestAPIListsTokensWithoutSecrets(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := e.member("alice")
		exp := e.clock.Now().Add(48 * time.Hour)
		old, oldSecret, err := e.svc.CreateAPIToken(ctx, alice.ID, "old script", "read", &exp)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.RevokeAPIToken(ctx, alice.ID, old.ID); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Hour)
		_, secret, err := e.svc.CreateAPIToken(ctx, alice.ID, "backup", "write", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp := e.api(secret, http.MethodGet, "/api/v1/apitokens", "")
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("list: status %d %s", resp.StatusCode, body)
		}
		if strings.Contains(body, "hsp_") || strings.Contains(body, secret[4:]) || strings.Contains(body, oldSecret[4:]) {
			t.Fatalf("the listing holds a secret: %s", body)
		}
		var list struct {
			APITokens []map[string]any `json:"apitokens"`
		}
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatal(err)
		}
		if len(list.APITokens) != 2 {
			t.Fatalf("%d tokens listed, want 2: %s", len(list.APITokens), body)
		}
		for _, tk := range list.APITokens {
			for _, k := range []string{"id", "description", "scopes", "status", "created_at", "last_used_at"} {
				if _, ok := tk[k]; !ok {
					t.Errorf("listed token lacks %q: %v", k, tk)
				}
			}
			for k := range tk {
				if strings.Contains(k, "hash") || k == "token" || k == "secret" {
					t.Errorf("listed token has field %q", k)
				}
			}
		}
		byDesc := map[string]map[string]any{}
		for _, tk := range list.APITokens {
			byDesc[fmt.Sprint(tk["description"])] = tk
		}
		if tk := byDesc["backup"]; tk == nil || tk["status"] != "active" || tk["last_used_at"] == nil || fmt.Sprint(tk["scopes"]) != "[write]" {
			t.Errorf("the token in use: %v", tk)
		}
		if tk := byDesc["old script"]; tk == nil || tk["status"] != "revoked" || tk["last_used_at"] != nil || fmt.Sprint(tk["scopes"]) != "[read]" {
			t.Errorf("the revoked token: %v", tk)
		}
		if got, err := time.Parse(time.RFC3339, fmt.Sprint(byDesc["backup"]["last_used_at"])); err != nil || !got.Equal(e.clock.Now()) {
			t.Errorf("last_used_at %v (%v), want %s", byDesc["backup"]["last_used_at"], err, e.clock.Now().Format(time.RFC3339))
		}
	})
}

func TestAPIRefusesLargeBody(t *testing.T) {
	t.Parallel()
	eachEnv(t, func(t *testing.T, e *env) {
		alice := e.member("alice")
		write := e.apiToken(alice, "write")
		big := `{"description":"` + strings.Repeat("a", 2<<20) + `"}`
		// Sent straight to the handler: App.Test would go on to read the
		// refused body from its connection as a second request.
		send := func(token string) *http.Response {
			req := httptest.NewRequest(http.MethodDelete, "/api/v1/apitokens/1", strings.NewReader(big))
			req.Header.Set("Content-Type", "application/json")
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			return e.client().doFrom("198.51.100.9:5555", req)
		}
		wantAPIError(t, "2 MiB body with a token", send(write), http.StatusRequestEntityTooLarge, "too_large")
		wantAPIError(t, "2 MiB body without a token", send(""), http.StatusRequestEntityTooLarge, "too_large")
		wantStatus(t, "the token afterwards", e.api(write, http.MethodGet, "/api/v1/me", ""), http.StatusOK)
		if ts, err := e.svc.ListAPITokens(context.Background(), alice.ID); err != nil || ts[0].RevokedAt != nil {
			t.Errorf("the refused DELETE revoked the token: %+v %v", ts, err)
		}
	})
}

// A request whose body is refused unread must not leave that body on the
// connection to be parsed as the next request: behind a proxy that reuses
// upstream connections, that would let one client inject requests (and
// receive the answers meant for others).
func TestRefusedBodyIsNotReadAsNextRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dbtest.Dialects()[0])
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go e.srv.Serve(ln)
	t.Cleanup(func() { e.srv.Shutdown(context.Background()) })

	smuggled := "GET /healthz HTTP/1.1\r\nHost: hub.test\r\n\r\n"
	blank := strings.Repeat("\r\n", 12000)
	// Declared bodies over the limit; what is sent of them is blank lines
	// and then a complete request.
	withLength := func(target string) string {
		return fmt.Sprintf("%s HTTP/1.1\r\nHost: hub.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n",
			target, 2<<20) + blank + smuggled
	}
	// A chunked body read up to the limit and refused: the request follows
	// right after the last byte read.
	chunk := strings.Repeat("a", 1<<20+1) + blank + smuggled
	chunked := "POST /login HTTP/1.1\r\nHost: hub.test\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n" +
		fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(chunk), chunk)
	for name, raw := range map[string]string{
		"API route over the limit":    withLength("DELETE /api/v1/apitokens/1"),
		"page over the limit":         withLength("POST /login"),
		"unknown route with a body":   withLength("POST /no-such-route"),
		"chunked page over the limit": chunked,
	} {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			go io.WriteString(conn, raw)
			// The deadline only guards against a hang; the answer is in what was read.
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			var got []byte
			buf := make([]byte, 4096)
			for {
				n, err := conn.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil || strings.Count(string(got), "HTTP/1.1 ") > 1 && strings.Contains(string(got), `{"status":"ok"}`) {
					break
				}
			}
			first, _, _ := strings.Cut(string(got), "\r\n")
			if first != "HTTP/1.1 413 Request Entity Too Large" && first != "HTTP/1.1 404 Not Found" {
				t.Errorf("first response %q, want 413 or 404", first)
			}
			if n := strings.Count(string(got), "HTTP/1.1 "); n > 1 {
				t.Errorf("the refused body was parsed as %d more request(s); the connection answered:\n%s", n-1, got)
			}
		})
	}
}
