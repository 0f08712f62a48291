package acl

import (
	"context"
	"net/mail"
	"strings"

	"hubshare/app"
)

// maxEmailLen is the longest address SMTP carries (RFC 5321 path limit).
const maxEmailLen = 254

// CheckEmail validates a member's e-mail address: one bare address such as
// ana@example.org, without a display name. It returns the address trimmed.
func CheckEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	bad := app.Errorf(app.EInvalid, "%q is not an e-mail address such as ana@example.org.", email)
	if email == "" || len(email) > maxEmailLen || strings.ContainsAny(email, "\r\n<>,; \t") {
		return "", bad
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Name != "" || a.Address != email {
		return "", bad
	}
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || domain == "" || !strings.Contains(domain, ".") && domain != "localhost" {
		return "", bad
	}
	return email, nil
}

// SetMemberMail changes a member's e-mail settings: email (when not nil; ""
// removes the address) and notify (when not nil). It returns the member.
func (s *Service) SetMemberMail(ctx context.Context, id int64, email *string, notify *bool) (*Member, error) {
	q := s.DB.NewUpdate().Model((*Member)(nil)).Where("id = ?", id)
	if email != nil {
		if *email == "" {
			q = q.Set("email = NULL")
		} else {
			e, err := CheckEmail(*email)
			if err != nil {
				return nil, err
			}
			q = q.Set("email = ?", e)
		}
	}
	if notify != nil {
		q = q.Set("notify_email = ?", *notify)
	}
	if email != nil || notify != nil {
		if _, err := q.Exec(ctx); err != nil {
			return nil, translate(err)
		}
	}
	return s.MemberByID(ctx, id)
}
