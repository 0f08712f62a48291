package acl_test

import (
	"testing"

	"hubshare/acl"
)

// PreviewAgentStrings holds a real User-Agent of every preview and scanner
// agent the list knows, with its family; the web test sends each one.
var previewAgentStrings = []struct{ ua, family string }{
	{"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "Slack"},
	{"Slackbot 1.0 (+https://api.slack.com/robots)", "Slack"},
	{"Slack-ImgProxy (+https://api.slack.com/robots)", "Slack"},
	{"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "Facebook"},
	{"facebookcatalog/1.0", "Facebook"},
	{"meta-externalagent/1.1 (+https://developers.facebook.com/docs/sharing/webmasters/crawler)", "Facebook"},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0", "Apple Messages"},
	{"WhatsApp/2.23.20.0", "WhatsApp"},
	{"WhatsApp/2.2407.3 i", "WhatsApp"},
	{"Twitterbot/1.0", "Twitter"},
	{"Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", "Discord"},
	{"TelegramBot (like TwitterBot)", "Telegram"},
	{"LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)", "LinkedIn"},
	{"Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5", "Skype"},
	{"Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com", "Skype"},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Teams/1.5.00.32283 Chrome/85.0.4183.121 Electron/10.4.7 Safari/537.36", "Microsoft Teams"},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0 MSTeams/23320.3021.2567.4799", "Microsoft Teams"},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/87.0.4280.88 Safari/537.36 (compatible; MicrosoftPreview/2.0; +https://aka.ms/MicrosoftPreview)", "Microsoft Teams"},
	{"Mozilla/4.0 (compatible; ms-office; MSOffice 16)", "Microsoft Office"},
	{"Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17231; Pro)", "Microsoft Office"},
	{"Microsoft Office Word 2014", "Microsoft Office"},
	{"MSOffice 16", "Microsoft Office"},
	{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Google"},
	{"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.216 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Google"},
	{"Mozilla/5.0 (compatible; Google-InspectionTool/1.0;)", "Google"},
	{"Mozilla/5.0 (compatible; GoogleOther)", "Google"},
	{"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "Bing"},
	{"Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/534+ (KHTML, like Gecko) BingPreview/1.0b", "Bing"},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)", "Apple"},
	{"Pinterestbot/1.0 (+http://www.pinterest.com/bot.html)", "Pinterest"},
	{"Mozilla/5.0 (compatible; redditbot/1.0; +http://www.reddit.com/feedback)", "Reddit"},
	{"http.rb/5.1.1 (Mastodon/4.2.0; +https://mastodon.social/)", "Mastodon"},
	{"Mozilla/5.0 (compatible; vkShare; +http://vk.com/dev/Share)", "VK"},
	{"Mozilla/5.0 (compatible; Embedly/0.2; +http://support.embed.ly/)", "Embedly"},
	{"Iframely/1.3.1 (+https://iframely.com/docs/about)", "Iframely"},
	{"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", "Yandex"},
	{"Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)", "Baidu"},
	{"DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)", "DuckDuckGo"},
	{"Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)", "Yahoo"},
}

// ordinaryBrowsers are people: none of them is a preview.
var ordinaryBrowsers = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/440.0.0.0]",
	"Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Mobile Safari/537.36 [LinkedInApp]",
	"curl/8.5.0",
	"",
}

func TestPreviewAgentFamilies(t *testing.T) {
	t.Parallel()
	for _, a := range previewAgentStrings {
		got, ok := acl.PreviewFamily(a.ua)
		if !ok || got != a.family {
			t.Errorf("PreviewFamily(%q) = %q, %v; want %q", a.ua, got, ok, a.family)
		}
	}
	for _, ua := range ordinaryBrowsers {
		if got, ok := acl.PreviewFamily(ua); ok {
			t.Errorf("PreviewFamily(%q) = %q: a person's browser taken for a preview", ua, got)
		}
	}
}
