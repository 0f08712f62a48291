package web

import (
	"encoding/json"
	"testing"

	"hubshare/app"
)

// FuzzACLInput feeds arbitrary bodies to the ACL and guest-token parsers:
// they never panic, every refusal is a client error with a message, and
// what they accept is well-formed.
func FuzzACLInput(f *testing.F) {
	for _, seed := range []string{
		`{"public": false, "allow": [1, 2], "deny": [3]}`,
		`{"public": true}`, `{"allow": [1]}`, `{"public": "yes"}`, `{"public": false, "allow": [-1]}`,
		`{"public": false, "allow": [9223372036854775807], "deny": [0]}`, `{"public": false, "allow": [1.5]}`,
		`{"public": null, "allow": null}`, `[]`, `null`, `{`, ``, `{"public": false} {"public": true}`,
		`{"name": "Grandma", "expires_at": "2030-01-01T00:00:00+02:00", "max_uses": 5, "password": "p", "can_download": true, "show_metadata": false, "note": "hi"}`,
		`{"expires_at": null, "max_uses": null, "password": null}`, `{"max_uses": 1e300}`, `{"max_uses": -3}`,
		`{"expires_at": "tomorrow"}`, `{"expires_at": 12}`, `{"name": 7}`, `{"can_download": "true"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := parseACL(body)
		if err != nil {
			checkClientError(t, err)
		} else {
			for _, id := range append(a.Allow, a.Deny...) {
				if id <= 0 {
					t.Fatalf("accepted principal id %d", id)
				}
			}
		}
		fields := map[string]json.RawMessage{}
		if err := decodeJSONBytes(body, &fields); err != nil {
			checkClientError(t, err)
			return
		}
		in, err := tokenInput(fields)
		if err != nil {
			checkClientError(t, err)
			return
		}
		if in.ExpiresAt != nil && in.ExpiresAt.Location().String() != "UTC" {
			t.Fatalf("expiry not in UTC: %v", in.ExpiresAt)
		}
		if in.ExpiresAt != nil && in.ClearExpiry {
			t.Fatal("expiry both set and cleared")
		}
	})
}

func checkClientError(t *testing.T, err error) {
	t.Helper()
	switch app.ErrorCode(err) {
	case app.EMalformed, app.EInvalid:
	default:
		t.Fatalf("refusal is not a client error: %v", err)
	}
	if app.ErrorMessage(err) == "" {
		t.Fatal("refusal without a message")
	}
}
