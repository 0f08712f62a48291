package main

import (
	"archive/tar"
	"bufio"
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
	"strings"

	"hubshare/app"
	"hubshare/app/database"
	"hubshare/content/media"
)

func (m *Main) restore(ctx context.Context, args []string) error {
	const use = "usage: hubshare restore FILE [--data-dir DIR] [--database-url URL] [--secret-key-file FILE]"
	fset := flag.NewFlagSet("hubshare restore", flag.ContinueOnError)
	fset.SetOutput(m.Stderr)
	cfg := &app.Config{}
	cf := cfg.RegisterFlags(fset)
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	if err := fset.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if rest := fset.Args(); file == "" && len(rest) == 1 {
		file = rest[0]
	} else if len(rest) > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q; %s", rest[0], use)}
	}
	if file == "" {
		return usageError{"no archive given; " + use}
	}
	if err := cf.Finish(m.Getenv); err != nil {
		return usageError{err.Error()}
	}
	res, err := restoreArchive(ctx, cfg, file)
	if err != nil {
		return fmt.Errorf("restore %s: %w (nothing was written)", file, err)
	}
	fmt.Fprintf(m.Stdout, "restored %d files (%d photos, %s database) into %s\n", res.files, res.photos, res.dialect, cfg.DataDir)
	if res.dialect == "postgres" {
		fmt.Fprintln(m.Stdout, "the archive holds no database: restore the PostgreSQL database from its pg_dump before starting hubshare")
	}
	return nil
}

type restoreResult struct {
	files, photos int
	dialect       string
}

// restoreArchive checks the destination, reads the whole archive into a
// staging directory (in or beside the data directory) while hashing every file,
// compares it with the manifest, and only then moves it into place. On any
// error the staging directory is removed and nothing else has changed.
func restoreArchive(ctx context.Context, cfg *app.Config, file string) (restoreResult, error) {
	var res restoreResult
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return res, err
	}
	keyPath, err := filepath.Abs(cfg.SecretKeyFile)
	if err != nil {
		return res, err
	}
	existed, err := requireEmptyDir(dataDir)
	if err != nil {
		return res, err
	}
	if _, err := os.Lstat(keyPath); err == nil {
		return res, fmt.Errorf("a server key already exists at %s: restore only where none is", keyPath)
	}
	postgres := database.IsPostgres(cfg.DatabaseURL)
	dbPath := ""
	if !postgres {
		if dbPath, err = database.SQLitePath(cfg.DatabaseURL, cfg.DataDir); err != nil {
			return res, err
		}
		if dbPath, err = filepath.Abs(dbPath); err != nil {
			return res, err
		}
		if _, err := os.Lstat(dbPath); err == nil {
			return res, fmt.Errorf("a database already exists at %s: restore only where none is", dbPath)
		}
	}

	f, err := os.Open(file)
	if err != nil {
		return res, err
	}
	defer f.Close()
	// The staging directory is on the data directory's filesystem, so
	// that moving into place is a rename: inside an existing (empty) data
	// directory, which may be a mount point, or else beside it.
	where := dataDir
	if !existed {
		where = filepath.Dir(dataDir)
		if err := os.MkdirAll(where, 0o700); err != nil {
			return res, err
		}
	}
	staging, err := os.MkdirTemp(where, ".restore-")
	if err != nil {
		return res, fmt.Errorf("create a staging directory in %s: %w", where, err)
	}
	defer os.RemoveAll(staging)
	tree := filepath.Join(staging, "data")
	store, err := media.NewFSStore(filepath.Join(tree, "media"))
	if err != nil {
		return res, err
	}
	stagedDB := filepath.Join(staging, database.FileName)
	stagedKey := filepath.Join(staging, "secret.key")

	man, got, err := readArchive(ctx, f, func(name string) (string, error) {
		switch {
		case name == archiveDatabase:
			return stagedDB, nil
		case name == archiveKey:
			return stagedKey, nil
		case strings.HasPrefix(name, archiveMediaDir):
			p, ok := store.Path(strings.TrimPrefix(name, archiveMediaDir))
			if !ok {
				return "", fmt.Errorf("the archive holds a media file with an invalid name %q", name)
			}
			return p, nil
		}
		return "", fmt.Errorf("the archive holds an unexpected entry %q", name)
	})
	if err != nil {
		return res, err
	}
	if err := checkManifest(man, got); err != nil {
		return res, err
	}
	if err := mediaGoesHome(cfg, dataDir, got); err != nil {
		return res, err
	}
	hasDB := got[archiveDatabase] != nil
	switch {
	case man.Dialect == "sqlite" && postgres:
		return res, errors.New("the archive holds an SQLite database but --database-url names PostgreSQL: restore it with the SQLite configuration it was taken with")
	case man.Dialect == "postgres" && !postgres:
		return res, errors.New("the archive is of a PostgreSQL deployment: give its --database-url (and restore the database from its pg_dump)")
	case man.Dialect == "sqlite" && !hasDB:
		return res, errors.New("the manifest names an SQLite deployment but the archive holds no database")
	case man.Dialect == "postgres" && hasDB:
		return res, errors.New("the manifest names a PostgreSQL deployment but the archive holds an SQLite database")
	}
	if got[archiveKey] == nil {
		return res, errors.New("the archive holds no server key")
	}
	if _, err := app.LoadOrCreateKey(stagedKey); err != nil {
		return res, err
	}
	for name := range got {
		if strings.HasPrefix(name, archiveMediaDir) && filepath.Base(name) == media.VariantOriginal {
			res.photos++
		}
	}
	res.files, res.dialect = len(got), man.Dialect

	// Into place: the key and the database inside the data directory move
	// with its tree; any outside it are linked in first (a link never
	// replaces an existing file) and taken back if the tree cannot move.
	var placed []string
	undo := func() {
		for _, p := range placed {
			os.RemoveAll(p)
		}
	}
	move := func(staged, final string) error {
		if rel, err := filepath.Rel(dataDir, final); err == nil && filepath.IsLocal(rel) {
			dst := filepath.Join(tree, rel)
			if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
				return err
			}
			return os.Rename(staged, dst)
		}
		if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
			return err
		}
		tmp, err := copyBeside(staged, final)
		if err != nil {
			return err
		}
		defer os.Remove(tmp)
		if err := os.Link(tmp, final); err != nil {
			return fmt.Errorf("place %s: %w", final, err)
		}
		placed = append(placed, final)
		return syncDir(filepath.Dir(final))
	}
	if err := move(stagedKey, keyPath); err != nil {
		undo()
		return res, err
	}
	if hasDB {
		if err := move(stagedDB, dbPath); err != nil {
			undo()
			return res, err
		}
	}
	if !existed {
		if err := os.Chmod(tree, 0o700); err != nil {
			undo()
			return res, err
		}
		// Fails if the directory has appeared since the check.
		if err := os.Rename(tree, dataDir); err != nil {
			undo()
			return res, fmt.Errorf("move the restored data into %s: %w", dataDir, err)
		}
		return res, syncDir(filepath.Dir(dataDir))
	}
	entries, err := os.ReadDir(tree)
	if err != nil {
		undo()
		return res, err
	}
	for _, e := range entries {
		final := filepath.Join(dataDir, e.Name())
		// A link or rename would replace what appeared since the check:
		// look first (the data directory is not in use during a restore).
		if _, err := os.Lstat(final); err == nil {
			undo()
			return res, fmt.Errorf("%s appeared during the restore: not replaced", final)
		}
		if err := os.Rename(filepath.Join(tree, e.Name()), final); err != nil {
			undo()
			return res, fmt.Errorf("move the restored data into %s: %w", dataDir, err)
		}
		placed = append(placed, final)
	}
	return res, syncDir(dataDir)
}

// requireEmptyDir accepts a directory that does not exist or is empty, and
// reports whether it exists.
func requireEmptyDir(dir string) (exists bool, err error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("data directory %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return true, fmt.Errorf("data directory %s is not empty: restore only into an empty or new directory", dir)
	}
	return true, nil
}

// stagedFile is what was read from the archive for one entry.
type stagedFile struct {
	size   int64
	sha256 string
}

// readArchive reads a backup archive (gzip-compressed or plain tar), writing
// each file where dest says and returning the manifest and what was
// written. The manifest must be the last entry.
func readArchive(ctx context.Context, r io.Reader, dest func(name string) (string, error)) (*manifest, map[string]*stagedFile, error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("the archive is not a readable gzip file: %w", err)
		}
		defer zr.Close()
		src = zr
	}
	tr := tar.NewReader(src)
	got := map[string]*stagedFile{}
	var man *manifest
	for {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && len(got) == 0 && man == nil {
			return nil, nil, fmt.Errorf("the file is not a hubshare backup archive (a tar.gz file): %w", err)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("the archive is damaged: %w", err)
		}
		if man != nil {
			return nil, nil, fmt.Errorf("the archive holds %q after its manifest", h.Name)
		}
		if h.Typeflag != tar.TypeReg {
			return nil, nil, fmt.Errorf("the archive entry %q is not a regular file", h.Name)
		}
		if got[h.Name] != nil {
			return nil, nil, fmt.Errorf("the archive holds %q twice", h.Name)
		}
		if h.Name == archiveManifest {
			b, err := io.ReadAll(io.LimitReader(tr, manifestSizeLimit+1))
			if err != nil {
				return nil, nil, fmt.Errorf("the archive is damaged: %w", err)
			}
			if len(b) > manifestSizeLimit {
				return nil, nil, errors.New("the archive's manifest is too large")
			}
			man = &manifest{}
			if err := json.Unmarshal(b, man); err != nil {
				return nil, nil, fmt.Errorf("the archive's manifest is not valid JSON: %w", err)
			}
			continue
		}
		path, err := dest(h.Name)
		if err != nil {
			return nil, nil, err
		}
		sf, err := stageFile(path, tr)
		if err != nil {
			return nil, nil, fmt.Errorf("the archive is damaged at %q: %w", h.Name, err)
		}
		got[h.Name] = sf
	}
	if man == nil {
		return nil, nil, errors.New("the archive has no manifest (not a hubshare backup, or cut off)")
	}
	// Reading the compressed stream to its end checks its own checksum.
	if _, err := io.Copy(io.Discard, src); err != nil {
		return nil, nil, fmt.Errorf("the archive is damaged: %w", err)
	}
	return man, got, nil
}

// stageFile writes r to a new file at path, synced, and hashes it.
func stageFile(path string, r io.Reader) (*stagedFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return &stagedFile{size: n, sha256: hex.EncodeToString(h.Sum(nil))}, nil
}

// checkManifest holds what was read to the manifest: the same files, each
// with its size and checksum.
func checkManifest(man *manifest, got map[string]*stagedFile) error {
	if man.Version != backupVersion {
		return fmt.Errorf("the archive is of backup version %d; this hubshare reads version %d", man.Version, backupVersion)
	}
	if man.Dialect != "sqlite" && man.Dialect != "postgres" {
		return fmt.Errorf("the manifest names an unknown database %q", man.Dialect)
	}
	listed := map[string]bool{}
	for _, mf := range man.Files {
		if listed[mf.Path] {
			return fmt.Errorf("the manifest lists %q twice", mf.Path)
		}
		listed[mf.Path] = true
		sf := got[mf.Path]
		switch {
		case sf == nil:
			return fmt.Errorf("the manifest lists %q but the archive does not hold it", mf.Path)
		case sf.size != mf.Size:
			return fmt.Errorf("%q has %d bytes, the manifest says %d", mf.Path, sf.size, mf.Size)
		case sf.sha256 != mf.SHA256:
			return fmt.Errorf("%q does not match its checksum in the manifest: the archive is corrupted", mf.Path)
		}
	}
	for name := range got {
		if !listed[name] {
			return fmt.Errorf("the archive holds %q, which its manifest does not list", name)
		}
	}
	return nil
}

// copyBeside copies src to a new temporary file in final's directory,
// synced, and returns its name.
func copyBeside(src, final string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.CreateTemp(filepath.Dir(final), "."+filepath.Base(final)+".restore-")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out.Name())
		return "", err
	}
	return out.Name(), nil
}

// mediaGoesHome refuses an archive with media when --media-url names
// another store than the data directory's own: restore puts the media
// there, where serve would never look. (An archive of a deployment whose
// media are in an object store holds none.)
func mediaGoesHome(cfg *app.Config, dataDir string, entries map[string]*stagedFile) error {
	hasMedia := false
	for name := range entries {
		hasMedia = hasMedia || strings.HasPrefix(name, archiveMediaDir)
	}
	if !hasMedia {
		return nil
	}
	home := filepath.Join(dataDir, "media")
	root, isFile, err := media.FilePath(cfg.MediaURL)
	if err != nil {
		return err
	}
	if abs, _ := filepath.Abs(root); isFile && abs == home {
		return nil
	}
	return fmt.Errorf("the archive's media go into %s, but --media-url names %s: restore without --media-url, then run hubshare media migrate --to %s",
		home, cfg.MediaURL, cfg.MediaURL)
}
