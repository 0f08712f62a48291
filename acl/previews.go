package acl

import (
	"context"
	"strings"
)

// EventPreview is a link fetched by a link previewer, a mail scanner or a
// crawler: it spends nothing and opens nothing; its reason names the agent
// family.
const EventPreview = "preview"

// PreviewHEAD is the family of a HEAD request from an agent this list does
// not know: whoever sends it reads headers, not the item.
const PreviewHEAD = "HEAD request"

// previewFamily is one family of preview and scanner agents and the
// substrings (lower case) of the User-Agent that name it.
type previewFamily struct {
	Name  string
	Marks []string
}

// previewAgents is every known link previewer, scanner and crawler, first
// match wins: Apple's Messages sends Facebook's and Twitter's names at once,
// so it comes before both.
var previewAgents = []previewFamily{
	{"Apple Messages", []string{"facebot twitterbot"}},
	{"Slack", []string{"slackbot", "slack-imgproxy"}},
	{"Facebook", []string{"facebookexternalhit", "facebookcatalog", "facebot", "meta-externalagent", "meta-externalfetcher"}},
	{"WhatsApp", []string{"whatsapp"}},
	{"Discord", []string{"discordbot"}},
	{"Telegram", []string{"telegrambot"}},
	{"LinkedIn", []string{"linkedinbot"}},
	// After Telegram, whose agent says "like TwitterBot".
	{"Twitter", []string{"twitterbot"}},
	{"Skype", []string{"skypeuripreview", "skype-url-preview"}},
	{"Microsoft Teams", []string{"msteams", " teams/", "microsoftpreview"}},
	{"Microsoft Office", []string{"ms-office", "msoffice", "microsoft office", "microsoft outlook"}},
	{"Google", []string{"googlebot", "google-inspectiontool", "googleother", "google-pagerenderer", "feedfetcher-google", "adsbot-google", "mediapartners-google"}},
	{"Bing", []string{"bingbot", "bingpreview", "adidxbot"}},
	{"Apple", []string{"applebot"}},
	{"Pinterest", []string{"pinterestbot", "pinterest/0."}},
	{"Reddit", []string{"redditbot"}},
	{"Mastodon", []string{"mastodon/"}},
	{"VK", []string{"vkshare"}},
	{"Embedly", []string{"embedly"}},
	{"Iframely", []string{"iframely"}},
	{"Yandex", []string{"yandexbot", "yandex.com/bots"}},
	{"Baidu", []string{"baiduspider"}},
	{"DuckDuckGo", []string{"duckduckbot"}},
	{"Yahoo", []string{"yahoo! slurp"}},
}

// PreviewFamily names the preview or scanner family of a User-Agent, if it
// is one.
func PreviewFamily(userAgent string) (string, bool) {
	ua := strings.ToLower(userAgent)
	for _, f := range previewAgents {
		for _, m := range f.Marks {
			if strings.Contains(ua, m) {
				return f.Name, true
			}
		}
	}
	return "", false
}

// RecordPreview puts a preview of a zat link into its owner's log, naming
// the agent family, tied to the item only when the token may open it. It
// reads the token and writes nothing else: no use, no last-used time, no
// session. A malformed or unknown secret is ignored (the neutral page the
// previewer gets tells nothing either way, so it is no guess), and a
// network locked out of zat attempts gets EThrottled as for every attempt.
func (s *Service) RecordPreview(ctx context.Context, secret, network, family string, item *int64) error {
	if err := s.Throttle.Check(ctx, ActionZat, NetworkKey(s.Keys, network)); err != nil {
		return err
	}
	if !ValidSecret(GuestTokenPrefix, secret) {
		return nil
	}
	var row struct {
		ID     int64 `bun:"id"`
		ItemOK bool  `bun:"item_ok"`
	}
	err := s.DB.NewRaw(`SELECT t.id, `+mayOpenSQL("t", "?")+` AS item_ok FROM guest_tokens AS t WHERE t.secret_hash = ?`,
		itemArg(item), LookupHash(s.Keys.Lookup, secret)).Scan(ctx, &row)
	if isNoRows(err) {
		return nil
	}
	if err != nil {
		return translate(err)
	}
	ev := AccessEvent{At: s.now(), TokenID: row.ID, Event: EventPreview, Network: network, Reason: family}
	if row.ItemOK {
		ev.ItemID = item
	}
	s.Log.Record(ev)
	return nil
}
