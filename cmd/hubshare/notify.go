package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"hubshare/acl"
	"hubshare/app"
	"hubshare/app/mail"
)

// expiringCheckInterval is how often tokens about to expire are looked
// for; the check is idempotent, so running it more often than daily only
// makes the notice timelier.
const expiringCheckInterval = time.Hour

// notifyExpiring is one pass of the expiring-token notices.
func notifyExpiring(ctx context.Context, svc *acl.Service, log *slog.Logger) {
	if _, err := svc.NotifyExpiringTokens(ctx, svc.Clock.Now()); err != nil && ctx.Err() == nil {
		log.Warn("expiring-token notifications", "err", err)
	}
}

// startMail starts the notification mail worker when an SMTP server is
// configured, and returns the function that stops it (once, however often
// it is called), sending what it holds within its drain timeout. Without
// --smtp-url it does nothing.
func startMail(cfg *app.Config, svc *acl.Service, log *slog.Logger, gather time.Duration) (stop func(), err error) {
	if cfg.SMTPURL == "" {
		return func() {}, nil
	}
	server, err := mail.ParseURL(cfg.SMTPURL)
	if err != nil {
		return nil, err
	}
	w, err := mail.New(mail.Config{Server: server, From: cfg.SMTPFrom, BaseURL: cfg.BaseURL, Logger: log, Gather: gather,
		Resolve: func(ctx context.Context, ids []int64) (map[int64]mail.Recipient, error) {
			rs, err := svc.MailRecipients(ctx, ids)
			if err != nil {
				return nil, err
			}
			out := make(map[int64]mail.Recipient, len(rs))
			for id, r := range rs {
				out[id] = mail.Recipient{Name: r.DisplayName, Address: r.Email}
			}
			return out, nil
		}})
	if err != nil {
		return nil, err
	}
	svc.SetNotifier(func(ns []acl.Notification) {
		notes := make([]mail.Note, len(ns))
		for i, n := range ns {
			notes[i] = mail.Note{Member: n.OwnerID, Text: n.Text}
		}
		w.Enqueue(notes...)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		w.Run(ctx)
		close(done)
	}()
	log.Info("notification mail on", "server", server.String(), "from", cfg.SMTPFrom)
	return sync.OnceFunc(func() {
		svc.SetNotifier(nil)
		cancel()
		<-done
		st := w.Stats()
		log.Info("notification mail closed", "sent", st.Sent, "abandoned", st.Abandoned, "dropped", st.Dropped)
	}), nil
}
