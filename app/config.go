package app

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
)

// Config is the configuration shared by every subcommand. Each field comes
// from a flag or the matching HUBSHARE_* environment variable; a flag wins.
type Config struct {
	Listen         string
	DatabaseURL    string
	DataDir        string
	BaseURL        string
	TrustedProxies []string
	SecretKeyFile  string
	MaxUpload      int64
	// MaxDecodeMemory is the memory, in bytes, that decoding uploaded
	// images may take at once, shared by concurrent uploads.
	MaxDecodeMemory int64
	// NoMigrate stops serve from applying pending migrations; it then
	// refuses to start on a stale schema.
	NoMigrate bool
	// LogLevel is "debug", "info", "warn" or "error".
	LogLevel string
	// LogFormat is "text" or "json" (LogFormatText, LogFormatJSON).
	LogFormat string
	// MetricsListen is the address of the Prometheus /metrics listener;
	// empty turns it off. It is never the public listener.
	MetricsListen string
	// AccessLogRetention is how long guest access-log entries are kept.
	AccessLogRetention time.Duration
	// SMTPURL (smtp://user:pass@host:port, smtps://…, ?starttls=true)
	// turns on notification mail from SMTPFrom; empty means no mail. It
	// holds a password: never log it.
	SMTPURL  string
	SMTPFrom string
	// MediaURL names the media store: file://PATH or
	// s3://BUCKET/PREFIX?endpoint=URL&region=R&path_style=true.
	MediaURL string
}

// Defaults.
const (
	DefaultListen    = "127.0.0.1:8080"
	DefaultDataDir   = "./data"
	DefaultMaxUpload = 50 << 20
	// DefaultMaxDecodeMemory fits a box with 1 GiB of memory: one
	// 80-megapixel JPEG, or several phone photos, decoded at once.
	DefaultMaxDecodeMemory = 512 << 20
	// DefaultAccessLogRetention keeps a year of guest access history.
	DefaultAccessLogRetention = 365 * 24 * time.Hour
)

// RegisterFlags declares the configuration flags on fs. Call Finish after
// fs.Parse to apply environment variables and validate.
func (c *Config) RegisterFlags(fs *flag.FlagSet) *ConfigFlags {
	f := &ConfigFlags{fs: fs, cfg: c}
	fs.StringVar(&f.listen, "listen", "", "address to listen on (HUBSHARE_LISTEN, default "+DefaultListen+")")
	fs.StringVar(&f.databaseURL, "database-url", "", "database URL; postgres:// selects PostgreSQL (HUBSHARE_DATABASE_URL, default: SQLite file hubshare.db in the data directory)")
	fs.StringVar(&f.dataDir, "data-dir", "", "data directory (HUBSHARE_DATA_DIR, default "+DefaultDataDir+")")
	fs.StringVar(&f.baseURL, "base-url", "", "public URL used in links; https enables Secure cookies (HUBSHARE_BASE_URL)")
	fs.StringVar(&f.trustedProxies, "trusted-proxies", "", "comma-separated IPs or CIDRs of reverse proxies whose forwarding headers are trusted (HUBSHARE_TRUSTED_PROXIES)")
	fs.StringVar(&f.secretKeyFile, "secret-key-file", "", "server key file (HUBSHARE_SECRET_KEY_FILE, default secret.key in the data directory)")
	fs.StringVar(&f.maxUpload, "max-upload", "", "largest accepted upload, e.g. 50MiB (HUBSHARE_MAX_UPLOAD, default 50MiB)")
	fs.StringVar(&f.maxDecodeMemory, "max-decode-memory", "", "memory that decoding uploaded images may take at once, e.g. 512MiB (HUBSHARE_MAX_DECODE_MEMORY, default 512MiB)")
	fs.BoolVar(&f.noMigrate, "no-migrate", false, "do not apply pending migrations; refuse to start on a stale schema (HUBSHARE_NO_MIGRATE)")
	fs.StringVar(&f.retention, "access-log-retention", "", "how long guest access-log entries are kept, e.g. 90d or 2160h (HUBSHARE_ACCESS_LOG_RETENTION, default 365d)")
	fs.StringVar(&f.mediaURL, "media-url", "", "media store: file://PATH or s3://BUCKET/PREFIX?endpoint=URL&region=R&path_style=true, credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (HUBSHARE_MEDIA_URL, default: media in the data directory)")
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error (HUBSHARE_LOG_LEVEL, default info)")
	fs.StringVar(&f.logFormat, "log-format", "", "text or json (HUBSHARE_LOG_FORMAT, default text)")
	fs.StringVar(&f.metricsListen, "metrics-listen", "", "address of a separate listener for Prometheus /metrics, e.g. 127.0.0.1:9090 (HUBSHARE_METRICS_LISTEN, default off)")
	fs.StringVar(&f.smtpURL, "smtp-url", "", "SMTP server for notification mail: smtp://user:password@host:587 (STARTTLS when offered; ?starttls=true requires it) or smtps://user:password@host:465 (HUBSHARE_SMTP_URL, default: no mail)")
	fs.StringVar(&f.smtpFrom, "smtp-from", "", "sender address of notification mail, e.g. hubshare@example.org (HUBSHARE_SMTP_FROM; required with --smtp-url)")
	return f
}

// ConfigFlags holds raw flag values until Finish merges them with the environment.
type ConfigFlags struct {
	fs                                                    *flag.FlagSet
	cfg                                                   *Config
	listen, databaseURL, dataDir, baseURL, trustedProxies string
	secretKeyFile, maxUpload, logLevel, retention         string
	maxDecodeMemory, logFormat, metricsListen             string
	smtpURL, smtpFrom                                     string
	mediaURL                                              string
	noMigrate                                             bool
}

// Finish merges flags (which win), environment variables and defaults into
// the Config and validates the result.
func (f *ConfigFlags) Finish(getenv func(string) string) error {
	if getenv == nil {
		getenv = os.Getenv
	}
	pick := func(flagName, flagVal, env, def string) string {
		set := false
		f.fs.Visit(func(fl *flag.Flag) {
			if fl.Name == flagName {
				set = true
			}
		})
		if set {
			return flagVal
		}
		if v := getenv(env); v != "" {
			return v
		}
		return def
	}
	c := f.cfg
	c.Listen = pick("listen", f.listen, "HUBSHARE_LISTEN", DefaultListen)
	c.DataDir = pick("data-dir", f.dataDir, "HUBSHARE_DATA_DIR", DefaultDataDir)
	c.DatabaseURL = pick("database-url", f.databaseURL, "HUBSHARE_DATABASE_URL", "")
	c.BaseURL = strings.TrimRight(pick("base-url", f.baseURL, "HUBSHARE_BASE_URL", ""), "/")
	c.SecretKeyFile = pick("secret-key-file", f.secretKeyFile, "HUBSHARE_SECRET_KEY_FILE", filepath.Join(c.DataDir, "secret.key"))
	c.NoMigrate = f.noMigrate
	if v := getenv("HUBSHARE_NO_MIGRATE"); !c.NoMigrate && (v == "1" || v == "true") {
		c.NoMigrate = true
	}
	c.LogLevel = pick("log-level", f.logLevel, "HUBSHARE_LOG_LEVEL", "info")
	if _, err := NewLogger(io.Discard, LogFormatText, c.LogLevel); err != nil {
		return err
	}
	c.LogFormat = pick("log-format", f.logFormat, "HUBSHARE_LOG_FORMAT", LogFormatText)
	if c.LogFormat != LogFormatText && c.LogFormat != LogFormatJSON {
		return fmt.Errorf("log format %q is not text or json", c.LogFormat)
	}
	c.MetricsListen = pick("metrics-listen", f.metricsListen, "HUBSHARE_METRICS_LISTEN", "")
	if c.MetricsListen != "" {
		_, port, err := net.SplitHostPort(c.MetricsListen)
		if err != nil {
			return fmt.Errorf("metrics listen address %q is not host:port, such as 127.0.0.1:9090", c.MetricsListen)
		}
		if c.MetricsListen == c.Listen && port != "0" {
			return fmt.Errorf("metrics listen address %q is the public listener: give /metrics its own address", c.MetricsListen)
		}
	}
	c.MediaURL = pick("media-url", f.mediaURL, "HUBSHARE_MEDIA_URL", "file://"+filepath.Join(c.DataDir, "media"))
	if !strings.HasPrefix(c.MediaURL, "file://") && !strings.HasPrefix(c.MediaURL, "s3://") {
		return fmt.Errorf("media URL %q must start with file:// or s3://", c.MediaURL)
	}
	if c.BaseURL == "" {
		c.BaseURL = "http://" + c.Listen
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("base URL %q must be an absolute http:// or https:// URL", c.BaseURL)
	}
	c.TrustedProxies = nil
	for _, p := range strings.Split(pick("trusted-proxies", f.trustedProxies, "HUBSHARE_TRUSTED_PROXIES", ""), ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				return fmt.Errorf("trusted proxy %q is neither an IP address nor a CIDR range", p)
			}
		}
		c.TrustedProxies = append(c.TrustedProxies, p)
	}
	c.AccessLogRetention = DefaultAccessLogRetention
	if v := pick("access-log-retention", f.retention, "HUBSHARE_ACCESS_LOG_RETENTION", ""); v != "" {
		d, err := parseDays(v)
		if err != nil || d < time.Hour {
			return fmt.Errorf("access log retention %q is not a duration of at least an hour, such as 90d or 2160h", v)
		}
		c.AccessLogRetention = d
	}
	c.MaxUpload = DefaultMaxUpload
	if s := pick("max-upload", f.maxUpload, "HUBSHARE_MAX_UPLOAD", ""); s != "" {
		n, err := parseSize(s)
		if err != nil || n <= 0 {
			return fmt.Errorf("max upload %q is not a size such as 50MiB", s)
		}
		c.MaxUpload = n
	}
	c.SMTPURL = pick("smtp-url", f.smtpURL, "HUBSHARE_SMTP_URL", "")
	c.SMTPFrom = pick("smtp-from", f.smtpFrom, "HUBSHARE_SMTP_FROM", "")
	if c.SMTPURL != "" && c.SMTPFrom == "" {
		return fmt.Errorf("--smtp-url needs --smtp-from (HUBSHARE_SMTP_FROM), the sender address of notification mail")
	}
	c.MaxDecodeMemory = DefaultMaxDecodeMemory
	if s := pick("max-decode-memory", f.maxDecodeMemory, "HUBSHARE_MAX_DECODE_MEMORY", ""); s != "" {
		n, err := parseSize(s)
		if err != nil || n < 16<<20 {
			return fmt.Errorf("max decode memory %q is not a size of at least 16MiB, such as 512MiB", s)
		}
		c.MaxDecodeMemory = n
	}
	return nil
}

// parseDays parses a Go duration, or a whole number of days such as "90d".
func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100*365 {
			return 0, fmt.Errorf("bad number of days %q", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

func parseSize(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	n, err := humanize.ParseBytes(s)
	if err != nil || n > 1<<40 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(n), nil
}

// Secure reports whether the public URL is https, which turns on Secure
// cookies with the __Host- prefix.
func (c *Config) Secure() bool { return strings.HasPrefix(c.BaseURL, "https://") }

// Session lifetimes.
const (
	SessionIdleTimeout     = 7 * 24 * time.Hour
	SessionAbsoluteTimeout = 30 * 24 * time.Hour
)
