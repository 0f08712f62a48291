package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/uptrace/bun"

	"hubshare/app/database"
	"hubshare/content/media"
)

// A backup archive is a gzip-compressed tar file holding, in this order:
//
//	database/hubshare.db  the SQLite snapshot (absent on PostgreSQL)
//	media/<key>           every stored variant of the photos in the snapshot
//	secret.key            the server key
//	manifest.json         what the archive holds, with each file's checksum
//
// The manifest comes last because its checksums are computed while the
// files stream into the archive; restore reads everything into a staging
// directory and checks it against the manifest before anything is moved
// into place.
const (
	backupVersion     = 1
	archiveDatabase   = "database/" + database.FileName
	archiveMediaDir   = "media/"
	archiveKey        = "secret.key"
	archiveManifest   = "manifest.json"
	backupAttempts    = 3
	manifestSizeLimit = 64 << 20
)

// manifest describes a backup archive.
type manifest struct {
	Version   int            `json:"version"`
	CreatedAt time.Time      `json:"created_at"`
	Dialect   string         `json:"dialect"`
	Files     []manifestFile `json:"files"`
}

type manifestFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// errMediaChanged reports a photo deleted between the snapshot and the copy
// of its files; the backup is then taken again.
var errMediaChanged = errors.New("missing photo file")

func (m *Main) backup(ctx context.Context, args []string) error {
	var out string
	cfg, err := m.parse("backup", args, func(fs *flag.FlagSet) {
		fs.StringVar(&out, "out", "", "the archive to write (required; must not exist)")
	})
	if err != nil {
		return err
	}
	if out == "" {
		return usageError{"--out is required: hubshare backup --out FILE"}
	}
	if _, err := os.Lstat(out); err == nil {
		return fmt.Errorf("%s already exists: choose a new file name for the backup", out)
	}
	key, err := os.ReadFile(cfg.SecretKeyFile)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no server key at %s: give the data directory (or --secret-key-file) that serve uses", cfg.SecretKeyFile)
	}
	if err != nil {
		return fmt.Errorf("read the server key: %w", err)
	}
	postgres := database.IsPostgres(cfg.DatabaseURL)
	if !postgres {
		path, err := database.SQLitePath(cfg.DatabaseURL, cfg.DataDir)
		if err != nil {
			return err
		}
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("no database to back up: %w", err)
		}
	}
	db, err := database.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return err
	}
	defer database.Close(db)
	// The media of a file store go into the archive; an object store is
	// backed up where it lives (its versioning or replication).
	var store *media.FSStore
	root, isFile, err := media.FilePath(cfg.MediaURL)
	if err != nil {
		return err
	}
	if isFile {
		if info, err := os.Stat(root); err != nil || !info.IsDir() {
			return fmt.Errorf("no media store at %s: give the data directory (or --media-url) serve uses", root)
		}
		if store, err = media.NewFSStore(root); err != nil {
			return err
		}
	}
	for attempt := 1; ; attempt++ {
		var man manifest
		man, err = writeBackup(ctx, db, store, key, out, m.Clock.Now())
		if !errors.Is(err, errMediaChanged) || attempt == backupAttempts {
			if errors.Is(err, errMediaChanged) {
				return fmt.Errorf("the media store lacks files of a photo the database holds (%w): the store is damaged or the photo is being deleted; nothing was written", err)
			}
			if err != nil {
				return err
			}
			photos := 0
			for _, f := range man.Files {
				if filepath.Base(f.Path) == media.VariantOriginal {
					photos++
				}
			}
			fmt.Fprintf(m.Stdout, "wrote %s: %d files (%d photos), %s database\n", out, len(man.Files), photos, man.Dialect)
			if store == nil {
				fmt.Fprintf(m.Stdout, "the media are in the object store %s and not in the archive: back the bucket up there\n", cfg.MediaURL)
			}
			if postgres {
				fmt.Fprintln(m.Stdout, "the database is PostgreSQL and is not in the archive: back it up with pg_dump (restore it before starting hubshare on the restored data directory)")
			}
			return nil
		}
		fmt.Fprintf(m.Stderr, "a photo was deleted during the backup: taking it again (attempt %d of %d)\n", attempt+1, backupAttempts)
	}
}

// writeBackup writes the archive to a temporary file beside out and renames
// it into place once complete, so out is never a partial archive.
// writeBackup writes the archive; store is nil when the media live in an
// object store, which is not archived.
func writeBackup(ctx context.Context, db *bun.DB, store *media.FSStore, key []byte, out string, now time.Time) (manifest, error) {
	man := manifest{Version: backupVersion, CreatedAt: now.UTC().Truncate(time.Second), Dialect: "postgres", Files: []manifestFile{}}
	staging, err := os.MkdirTemp(filepath.Dir(out), ".hubshare-backup-")
	if err != nil {
		return man, fmt.Errorf("create a temporary directory beside %s: %w", out, err)
	}
	defer os.RemoveAll(staging)

	// The snapshot first: the media copied after it are those of the
	// photos it holds, whose files were all committed before their rows.
	var bases []string
	snapshot := ""
	if database.IsSQLite(db) {
		man.Dialect = "sqlite"
		snapshot = filepath.Join(staging, database.FileName)
		if err := database.Snapshot(ctx, db, snapshot); err != nil {
			return man, err
		}
		snap, err := database.Open(ctx, snapshot, "")
		if err != nil {
			return man, err
		}
		err = snap.NewSelect().Table("items").Column("media_key").Where("media_key IS NOT NULL").Order("media_key").Scan(ctx, &bases)
		database.Close(snap)
		if err != nil {
			return man, fmt.Errorf("read the snapshot's photos: %w", err)
		}
	}

	tmp, err := os.CreateTemp(staging, "archive-")
	if err != nil {
		return man, err
	}
	defer tmp.Close()
	zw, _ := gzip.NewWriterLevel(tmp, gzip.BestSpeed) // JPEGs do not compress
	tw := tar.NewWriter(zw)
	add := func(name string, size int64, r io.Reader) error {
		h := sha256.New()
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: size, ModTime: man.CreatedAt, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return err
		}
		n, err := io.Copy(tw, io.TeeReader(r, h))
		if err != nil {
			return fmt.Errorf("archive %s: %w", name, err)
		}
		if n != size {
			return fmt.Errorf("archive %s: %d bytes read, %d expected (changed while copied)", name, n, size)
		}
		man.Files = append(man.Files, manifestFile{Path: name, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))})
		return nil
	}
	addFile := func(name, path string) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			return err
		}
		return add(name, info.Size(), f)
	}
	addObject := func(k string) error {
		obj, err := store.Open(ctx, k)
		if err != nil {
			return err
		}
		defer obj.Close()
		return add(archiveMediaDir+k, obj.Size(), obj)
	}

	if snapshot != "" {
		if err := addFile(archiveDatabase, snapshot); err != nil {
			return man, err
		}
		for _, base := range bases {
			if store == nil {
				break
			}
			for _, v := range media.Variants {
				err := addObject(media.VariantKey(base, v))
				if errors.Is(err, fs.ErrNotExist) {
					return man, fmt.Errorf("%w %s", errMediaChanged, media.VariantKey(base, v))
				}
				if err != nil {
					return man, err
				}
			}
		}
	} else if store != nil {
		// On PostgreSQL the database is the operator's to back up, at a
		// moment of their choosing: every committed object goes in.
		err := store.Walk(ctx, func(o media.ObjectInfo) error {
			err := addObject(o.Key)
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted since the walk listed it
			}
			return err
		})
		if err != nil {
			return man, err
		}
	}
	if err := add(archiveKey, int64(len(key)), bytes.NewReader(key)); err != nil {
		return man, err
	}
	mb, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return man, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: archiveManifest, Mode: 0o600, Size: int64(len(mb)), ModTime: man.CreatedAt, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return man, err
	}
	if _, err := tw.Write(mb); err != nil {
		return man, err
	}
	if err := tw.Close(); err != nil {
		return man, err
	}
	if err := zw.Close(); err != nil {
		return man, err
	}
	if err := tmp.Sync(); err != nil {
		return man, fmt.Errorf("write the archive: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return man, fmt.Errorf("write the archive: %w", err)
	}
	// The archive holds the server key: owner-only, like the key file.
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return man, err
	}
	if _, err := os.Lstat(out); err == nil {
		return man, fmt.Errorf("%s appeared during the backup: not overwritten", out)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return man, fmt.Errorf("move the archive into place: %w", err)
	}
	return man, syncDir(filepath.Dir(out))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
