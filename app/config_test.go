package app_test

import (
	"flag"
	"io"
	"testing"
	"time"

	"hubshare/app"
)

func parse(t *testing.T, args []string, env map[string]string) (*app.Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg := &app.Config{}
	cf := cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return cfg, cf.Finish(func(k string) string { return env[k] })
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:8080" || cfg.DataDir != "./data" || cfg.DatabaseURL != "" || cfg.MaxUpload != 50<<20 ||
		cfg.SecretKeyFile != "data/secret.key" || cfg.BaseURL != "http://127.0.0.1:8080" || len(cfg.TrustedProxies) != 0 ||
		cfg.AccessLogRetention != 365*24*time.Hour || cfg.NoMigrate || cfg.Secure() || cfg.MediaURL != "file://data/media" {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestConfigFlagBeatsEnvironment(t *testing.T) {
	env := map[string]string{
		"HUBSHARE_LISTEN": "127.0.0.1:9000", "HUBSHARE_DATA_DIR": "/env", "HUBSHARE_MAX_UPLOAD": "10MiB",
		"HUBSHARE_BASE_URL": "https://env.example/", "HUBSHARE_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1",
		"HUBSHARE_ACCESS_LOG_RETENTION": "90d", "HUBSHARE_NO_MIGRATE": "true",
		"HUBSHARE_MEDIA_URL": "s3://bucket/prefix?region=eu-west-1",
	}
	cfg, err := parse(t, []string{"--listen", "127.0.0.1:7000", "--max-upload", "1048576"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:7000" || cfg.MaxUpload != 1<<20 {
		t.Errorf("flags did not win: %+v", cfg)
	}
	if cfg.DataDir != "/env" || cfg.SecretKeyFile != "/env/secret.key" || cfg.BaseURL != "https://env.example" || !cfg.Secure() ||
		len(cfg.TrustedProxies) != 2 || cfg.AccessLogRetention != 90*24*time.Hour || !cfg.NoMigrate || cfg.MediaURL != "s3://bucket/prefix?region=eu-west-1" {
		t.Errorf("environment not applied: %+v", cfg)
	}
}

func TestConfigRefusesNonsense(t *testing.T) {
	for _, args := range [][]string{
		{"--base-url", "ftp://x"}, {"--base-url", "hub.example"}, {"--trusted-proxies", "not-an-ip"},
		{"--max-upload", "lots"}, {"--max-upload", "0"}, {"--access-log-retention", "soon"}, {"--access-log-retention", "1m"},
		{"--media-url", "/var/media"}, {"--media-url", "https://bucket.example/"},
	} {
		if _, err := parse(t, args, nil); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestConfigMaxDecodeMemory(t *testing.T) {
	cfg, err := parse(t, nil, nil)
	if err != nil || cfg.MaxDecodeMemory != 512<<20 {
		t.Fatalf("default %d, %v", cfg.MaxDecodeMemory, err)
	}
	env := map[string]string{"HUBSHARE_MAX_DECODE_MEMORY": "2GiB"}
	if cfg, err = parse(t, nil, env); err != nil || cfg.MaxDecodeMemory != 2<<30 {
		t.Errorf("environment: %d, %v", cfg.MaxDecodeMemory, err)
	}
	if cfg, err = parse(t, []string{"--max-decode-memory", "256MiB"}, env); err != nil || cfg.MaxDecodeMemory != 256<<20 {
		t.Errorf("flag: %d, %v", cfg.MaxDecodeMemory, err)
	}
	for _, v := range []string{"lots", "0", "1MiB", "-5"} {
		if _, err := parse(t, []string{"--max-decode-memory", v}, nil); err == nil {
			t.Errorf("--max-decode-memory %q accepted", v)
		}
	}
}

func TestConfigLogFormatAndMetricsListen(t *testing.T) {
	cfg, err := parse(t, nil, nil)
	if err != nil || cfg.LogFormat != app.LogFormatText || cfg.MetricsListen != "" {
		t.Fatalf("defaults: log format %q, metrics listen %q (%v): want text and off", cfg.LogFormat, cfg.MetricsListen, err)
	}
	env := map[string]string{"HUBSHARE_LOG_FORMAT": "json", "HUBSHARE_METRICS_LISTEN": "127.0.0.1:9100"}
	if cfg, err = parse(t, nil, env); err != nil || cfg.LogFormat != "json" || cfg.MetricsListen != "127.0.0.1:9100" {
		t.Errorf("from the environment: %+v, %v", cfg, err)
	}
	if cfg, err = parse(t, []string{"--log-format", "text", "--metrics-listen", "[::1]:9200"}, env); err != nil ||
		cfg.LogFormat != "text" || cfg.MetricsListen != "[::1]:9200" {
		t.Errorf("flags did not win: %+v, %v", cfg, err)
	}
	for _, args := range [][]string{
		{"--log-format", "xml"}, {"--log-level", "verbose"}, {"--metrics-listen", "9100"},
		{"--listen", "127.0.0.1:8080", "--metrics-listen", "127.0.0.1:8080"},
	} {
		if _, err := parse(t, args, nil); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func TestConfigSMTP(t *testing.T) {
	cfg, err := parse(t, []string{"--smtp-from", "hub@flag.example"},
		map[string]string{"HUBSHARE_SMTP_URL": "smtp://u:p@mail.example:587", "HUBSHARE_SMTP_FROM": "hub@env.example"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SMTPURL != "smtp://u:p@mail.example:587" || cfg.SMTPFrom != "hub@flag.example" {
		t.Errorf("smtp settings: %q %q", cfg.SMTPURL, cfg.SMTPFrom)
	}
	if _, err := parse(t, []string{"--smtp-url", "smtp://mail.example"}, nil); err == nil {
		t.Error("--smtp-url without --smtp-from was accepted")
	}
	if cfg, err := parse(t, nil, nil); err != nil || cfg.SMTPURL != "" {
		t.Errorf("default: %q, %v", cfg.SMTPURL, err)
	}
}
