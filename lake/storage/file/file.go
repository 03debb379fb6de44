// Package file implements storage.Storage on a local directory: the embedded
// default lake (file:///abs/dir).
//
// Every access goes through an os.Root opened on the directory, so a key can
// never name anything outside it: ".." is rejected by storage.CheckKey, and
// symbolic links are followed only while they stay inside the root (a link
// pointing outside fails with an error and is never read or written through).
//
// Writes are atomic: Create writes to a hidden temp file (".tierflow-tmp-*")
// in the object's directory, and Commit fsyncs it and renames it over the
// key, then fsyncs the directory. A crash leaves at most a temp file, which
// List never reports and CleanTemp removes.
//
// ETags are the hex SHA-256 of the content. Create and Copy compute it while
// writing and store it, stamped with the file's size and mtime, in the
// extended attribute user.tierflow.sha256. Files that did not come through
// the store (a partner drop copied in by hand) or file systems without user
// xattrs get the digest computed on first Stat/List, stored in the xattr when
// possible and cached in memory by size and mtime otherwise. The first
// listing of large foreign files therefore reads them once; afterwards an
// ETag costs one open and one getxattr. A file modified in place without
// changing size or mtime (nanoseconds) would keep a stale ETag.
//
// Limitation of a file system: a key cannot be both an object and a
// "directory" of other keys ("a" and "a/b"); S3 allows it, this store
// returns an error from Commit or Create.
//
// Errors: a sentinel's text starts with its package name; wrapping adds context, never that name again.
package file

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/tierflow/tierflow/lake/storage"
)

// tempPrefix starts the name of every in-progress file. Keys with a segment
// starting with it are rejected so that no object can hide as a temp file.
const tempPrefix = ".tierflow-tmp-"

// Store is a storage.Storage rooted at a local directory. It is safe for
// concurrent use by multiple goroutines and by several processes sharing the
// directory (writes are atomic renames).
type Store struct {
	dir   string   // absolute, cleaned
	root  *os.Root // all access goes through it
	etags etagCache
	xattr xattrState
}

var _ storage.Storage = (*Store)(nil)

// New opens (creating it if needed) the directory root as a store. A
// relative root is made absolute against the working directory. Close
// releases the directory handle.
func New(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("file: store root %q: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o777); err != nil {
		return nil, fmt.Errorf("file: create store root: %w", err)
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("file: open store root: %w", err)
	}
	return &Store{dir: abs, root: r, etags: etagCache{m: map[string]etagEntry{}}}, nil
}

// Close releases the directory handle. Readers and writers already open keep
// working; new calls fail.
func (s *Store) Close() error { return s.root.Close() }

// Dir returns the absolute directory the store is rooted at.
func (s *Store) Dir() string { return s.dir }

// URI returns file:// followed by the absolute root, e.g. file:///srv/lake.
func (s *Store) URI() string { return "file://" + filepath.ToSlash(s.dir) }

// ObjectURI returns URI() + "/" + key.
func (s *Store) ObjectURI(key string) string {
	return strings.TrimSuffix(s.URI(), "/") + "/" + key
}

// checkKey applies storage.CheckKey and the store's own rule about temp names.
func checkKey(key string) error {
	if err := storage.CheckKey(key); err != nil {
		return fmt.Errorf("file: %w", err)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if strings.HasPrefix(seg, tempPrefix) {
			return fmt.Errorf("file: key %q: %w: segment starts with reserved %q", key, storage.ErrInvalidKey, tempPrefix)
		}
	}
	return nil
}

// osErr wraps err from an operation on key, mapping "no such file" and
// "not a directory" to storage.ErrNotExist.
func osErr(op, key string, err error) error {
	if isNotExist(err) {
		return fmt.Errorf("file: %s %q: %w", op, key, storage.ErrNotExist)
	}
	return fmt.Errorf("file: %s %q: %w", op, key, err)
}

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// begin checks the context and the key common to every keyed call.
func begin(ctx context.Context, op, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("file: %s %q: %w", op, key, err)
	}
	return checkKey(key)
}

// openObject opens key for reading and checks that it is a regular file
// (directories are not objects).
func (s *Store) openObject(ctx context.Context, op, key string) (*os.File, fs.FileInfo, error) {
	if err := begin(ctx, op, key); err != nil {
		return nil, nil, err
	}
	f, err := s.root.Open(filepath.FromSlash(key))
	if err != nil {
		return nil, nil, osErr(op, key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, osErr(op, key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("file: %s %q: %w (not a regular file)", op, key, storage.ErrNotExist)
	}
	return f, fi, nil
}

// Open reads key from its beginning.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	f, _, err := s.openObject(ctx, "open", key)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// rangeReader reads a section of an open file and closes the file.
type rangeReader struct {
	*io.SectionReader
	f *os.File
}

func (r rangeReader) Close() error { return r.f.Close() }

// OpenRange reads length bytes from offset; length < 0 reads to the end, a
// length past the end is clipped, offset == size gives an empty reader and
// offset > size an error wrapping storage.ErrInvalidRange.
func (s *Store) OpenRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	f, fi, err := s.openObject(ctx, "open range", key)
	if err != nil {
		return nil, err
	}
	n, err := storage.CheckRange(key, offset, length, fi.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("file: %w", err)
	}
	return rangeReader{io.NewSectionReader(f, offset, n), f}, nil
}

// Stat describes key; its ETag is the content's SHA-256 (see package doc).
func (s *Store) Stat(ctx context.Context, key string) (storage.Object, error) {
	f, fi, err := s.openObject(ctx, "stat", key)
	if err != nil {
		return storage.Object{}, err
	}
	defer f.Close()
	return s.describe(ctx, key, f, fi)
}

// describe builds the Object for an open regular file.
func (s *Store) describe(ctx context.Context, key string, f *os.File, fi fs.FileInfo) (storage.Object, error) {
	sum, fi, err := s.etag(ctx, key, f, fi)
	if err != nil {
		return storage.Object{}, err
	}
	return storage.Object{Key: key, Size: fi.Size(), ETag: sum, ModTime: fi.ModTime()}, nil
}

// Create starts an atomic write of key; see storage.Writer. If
// opts.SHA256 is set, Commit verifies the content against it.
func (s *Store) Create(ctx context.Context, key string, opts storage.PutOptions) (storage.Writer, error) {
	if err := begin(ctx, "create", key); err != nil {
		return nil, err
	}
	f, tmp, err := s.createTemp(path.Dir(key))
	if err != nil {
		return nil, osErr("create", key, err)
	}
	return newWriter(ctx, s, key, tmp, f, strings.ToLower(opts.SHA256)), nil
}

// createTemp creates a new hidden temp file in dir (a slash path, "." for
// the root), creating dir first.
func (s *Store) createTemp(dir string) (*os.File, string, error) {
	for attempt := 0; ; attempt++ {
		if dir != "." {
			if err := s.root.MkdirAll(filepath.FromSlash(dir), 0o777); err != nil {
				return nil, "", err
			}
		}
		name := path.Join(dir, tempPrefix+randomHex())
		f, err := s.root.OpenFile(filepath.FromSlash(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if err == nil {
			return f, name, nil
		}
		// A concurrent Delete may have pruned dir between MkdirAll and
		// OpenFile; try again a few times.
		if !errors.Is(err, fs.ErrNotExist) || attempt == 4 {
			return nil, "", err
		}
	}
}

// commitTemp makes the written, synced and closed temp file visible as key.
func (s *Store) commitTemp(tmp, key string) error {
	if err := s.root.Rename(filepath.FromSlash(tmp), filepath.FromSlash(key)); err != nil {
		_ = s.root.Remove(filepath.FromSlash(tmp))
		return err
	}
	// The rename is durable only once the directory entry is on disk.
	return s.syncDir(path.Dir(key))
}

func (s *Store) syncDir(dir string) error {
	d, err := s.root.Open(filepath.FromSlash(dir))
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func randomHex() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// Copy copies src to dst through a temp file and rename, so dst changes
// atomically. The kernel copies the bytes (copy_file_range, or a reflink on
// file systems that support it) when src's digest is already known;
// otherwise the content is hashed in the same pass.
func (s *Store) Copy(ctx context.Context, src, dst string) error {
	if err := begin(ctx, "copy to", dst); err != nil {
		return err
	}
	in, fi, err := s.openObject(ctx, "copy", src)
	if err != nil {
		return err
	}
	defer in.Close()
	sum, known := s.knownETag(src, in, fi)

	out, tmp, err := s.createTemp(path.Dir(dst))
	if err != nil {
		return osErr("copy to", dst, err)
	}
	fail := func(err error) error {
		out.Close()
		_ = s.root.Remove(filepath.FromSlash(tmp))
		return fmt.Errorf("file: copy %q to %q: %w", src, dst, err)
	}
	if known {
		_, err = io.Copy(out, in) // *os.File → *os.File: copy_file_range
	} else {
		h := newHash()
		_, err = io.Copy(io.MultiWriter(out, h), in)
		sum = hex.EncodeToString(h.Sum(nil))
	}
	if err != nil {
		return fail(err)
	}
	after, err := in.Stat()
	if err != nil {
		return fail(err)
	}
	if stampOf(after) != stampOf(fi) {
		return fail(errors.New("source changed during copy"))
	}
	if err := s.finishFile(out, sum); err != nil {
		return fail(err)
	}
	if err := s.commitTemp(tmp, dst); err != nil {
		return osErr("copy to", dst, err)
	}
	return nil
}

// finishFile records sum on a fully written temp file, fsyncs and closes it.
func (s *Store) finishFile(f *os.File, sum string) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	s.xattr.set(f, sum, stampOf(fi))
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// Delete removes key and then every parent directory left empty, up to the
// root. A missing key, or a key naming a directory, is not an error. A
// symbolic link is removed itself, never its target.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := begin(ctx, "delete", key); err != nil {
		return err
	}
	name := filepath.FromSlash(key)
	fi, err := s.root.Lstat(name)
	if isNotExist(err) {
		return nil
	}
	if err != nil {
		return osErr("delete", key, err)
	}
	if fi.IsDir() {
		return nil
	}
	if err := s.root.Remove(name); err != nil && !isNotExist(err) {
		return osErr("delete", key, err)
	}
	s.etags.drop(key)
	s.prune(path.Dir(key))
	return nil
}

// prune removes dir and its parents while they are empty. Failure (usually
// "directory not empty") just stops it.
func (s *Store) prune(dir string) {
	for ; dir != "." && dir != "/"; dir = path.Dir(dir) {
		fi, err := s.root.Lstat(filepath.FromSlash(dir))
		if err != nil || !fi.IsDir() {
			return
		}
		// Remove deletes an empty directory and fails on a non-empty one.
		if err := s.root.Remove(filepath.FromSlash(dir)); err != nil {
			return
		}
	}
}

// ErrNotRegular is returned (wrapped) by List for a symbolic link or other
// non-regular file below the prefix: the lake holds only regular files and
// tierflow never follows links, so such an entry is refused, not skipped.
var ErrNotRegular = errors.New("file: not a regular file (a symbolic link or special file): the lake holds only regular files")

// List calls fn for every object whose key starts with prefix, in
// lexicographic (byte) order of keys, recursively. Temp files are skipped;
// a symbolic link or other non-regular file fails the listing
// (ErrNotRegular). Only the directory part
// of prefix is opened, so listing a month prefix does not walk the lake.
func (s *Store) List(ctx context.Context, prefix string, fn func(storage.Object) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("file: list %q: %w", prefix, err)
	}
	dir, namePrefix := ".", prefix
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dir, namePrefix = prefix[:i], prefix[i+1:]
		if storage.CheckKey(dir) != nil {
			return nil // no valid key lives below an invalid directory
		}
	}
	err := s.walk(ctx, dir, namePrefix, func(key string) error {
		f, fi, err := s.openObject(ctx, "list", key)
		if errors.Is(err, storage.ErrNotExist) {
			return nil // deleted while listing
		}
		if err != nil {
			return err
		}
		obj, err := s.describe(ctx, key, f, fi)
		f.Close()
		if err != nil {
			return err
		}
		return fn(obj)
	})
	if errors.Is(err, ErrNotRegular) {
		return fmt.Errorf("list %q: %w", prefix, err) // the sentinel names the package
	}
	if err != nil {
		return fmt.Errorf("file: list %q: %w", prefix, err)
	}
	return nil
}

// walk calls fn with the key of every regular, non-temp file below dir
// whose first name component starts with namePrefix, in key order.
//
// Key order is not the order of a plain depth-first walk: "a.c" sorts
// before "a/b" ('.' < '/') although directory "a" sorts before file "a.c".
// Sorting each directory's entries by name, with "/" appended to
// directories, yields exactly the byte order of the keys.
func (s *Store) walk(ctx context.Context, dir, namePrefix string, fn func(key string) error) error {
	d, err := s.root.Open(filepath.FromSlash(dir))
	if isNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		if isNotExist(err) {
			return nil
		}
		return err
	}
	type entry struct {
		sortName, name string
		dir            bool
	}
	list := make([]entry, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, namePrefix) || strings.HasPrefix(name, tempPrefix) {
			continue
		}
		switch {
		case e.IsDir():
			list = append(list, entry{name + "/", name, true})
		case e.Type().IsRegular():
			list = append(list, entry{name, name, false})
		default:
			// Skipping it would silently drop, say, a month's part.
			key := name
			if dir != "." {
				key = dir + "/" + name
			}
			return fmt.Errorf("%s: %w", key, ErrNotRegular)
		}
	}
	slices.SortFunc(list, func(a, b entry) int { return strings.Compare(a.sortName, b.sortName) })
	for _, e := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		key := e.name
		if dir != "." {
			key = dir + "/" + e.name
		}
		if e.dir {
			err = s.walk(ctx, key, "", fn)
		} else {
			err = fn(key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// CleanTemp removes the temp files below prefix (left by crashed or
// abandoned writers) whose modification time is older than olderThan, and
// every directory below prefix left empty (an engine that died before
// writing its first file leaves one). prefix is "" (the whole lake) or a
// directory prefix ending in "/". It returns how many temp files it
// removed. An in-progress writer's temp file is not protected: the caller
// passes only prefixes no live writer uses, or an age well above the
// longest write.
func (s *Store) CleanTemp(ctx context.Context, prefix string, olderThan time.Duration) (int, error) {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		return 0, fmt.Errorf("file: clean temp files: prefix %q is not a directory prefix", prefix)
	}
	if err := checkKey(strings.TrimSuffix(prefix, "/")); prefix != "" && err != nil {
		return 0, err
	}
	top := strings.TrimSuffix(prefix, "/")
	if top == "" {
		top = "."
	}
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	var walk func(dir string) error
	walk = func(dir string) error {
		d, err := s.root.Open(filepath.FromSlash(dir))
		if err != nil {
			return err
		}
		entries, err := d.ReadDir(-1)
		d.Close()
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			name := path.Join(dir, e.Name())
			switch {
			case e.IsDir():
				if err := walk(name); err != nil && !isNotExist(err) {
					return err
				}
			case strings.HasPrefix(e.Name(), tempPrefix) && e.Type().IsRegular():
				fi, err := s.root.Lstat(filepath.FromSlash(name))
				if err != nil || (olderThan > 0 && !fi.ModTime().Before(cutoff)) {
					continue
				}
				if err := s.root.Remove(filepath.FromSlash(name)); err == nil {
					removed++
				}
			}
		}
		if dir != "." {
			// Fails (and is meant to) unless the directory is empty now.
			_ = s.root.Remove(filepath.FromSlash(dir))
		}
		return nil
	}
	if err := walk(top); err != nil && !isNotExist(err) {
		return removed, fmt.Errorf("file: clean temp files under %q: %w", prefix, err)
	}
	if top != "." {
		s.prune(path.Dir(top))
	}
	return removed, nil
}
