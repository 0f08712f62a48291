package main

import (
	"context"
	"flag"
	"fmt"

	"hubshare/content/media"
)

// mediaMigrate copies every object of the configured media store
// (--media-url) to the store --to names, verifying each copy's checksum.
// Objects the destination already holds intact are skipped, so it can run
// again, for instance once more after the last uploads before switching.
func (m *Main) mediaMigrate(ctx context.Context, args []string) error {
	var to string
	cfg, err := m.parse("media migrate", args, func(fs *flag.FlagSet) {
		fs.StringVar(&to, "to", "", "URL of the destination store: file://PATH or s3://BUCKET/PREFIX?endpoint=URL&region=R&path_style=true")
	})
	if err != nil {
		return err
	}
	if to == "" {
		return usageError{"usage: hubshare media migrate --to URL (the source is --media-url)"}
	}
	if to == cfg.MediaURL {
		return usageError{"--to names the store being copied from (--media-url): give another store"}
	}
	src, err := media.OpenStore(ctx, cfg.MediaURL, m.Getenv)
	if err != nil {
		return fmt.Errorf("source store: %w", err)
	}
	dst, err := media.OpenStore(ctx, to, m.Getenv)
	if err != nil {
		return fmt.Errorf("destination store: %w", err)
	}
	seen := 0
	res, err := media.Migrate(ctx, src, dst, func(_ string, r media.MigrateResult) {
		if seen++; seen%1000 == 0 {
			fmt.Fprintf(m.Stdout, "%d objects so far: %d copied, %d already there\n", seen, r.Copied, r.Present)
		}
	})
	fmt.Fprintf(m.Stdout, "copied and verified %d objects (%d bytes); %d already there and intact; %d deleted from the source meanwhile\n",
		res.Copied, res.Bytes, res.Present, res.Vanished)
	if err != nil {
		return fmt.Errorf("media migrate stopped (run it again to go on): %w", err)
	}
	return nil
}
