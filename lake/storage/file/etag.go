package file

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// xattrName holds "<sha256 hex> <size> <mtime unix nanos>" for a file.
const xattrName = "user.tierflow.sha256"

func newHash() hash.Hash { return sha256.New() }

// stamp identifies one version of a file's content as far as the file
// system tells: a digest recorded under one stamp is trusted only while the
// file still has that stamp.
type stamp struct {
	size  int64
	mtime int64 // unix nanoseconds
}

func stampOf(fi fs.FileInfo) stamp { return stamp{fi.Size(), fi.ModTime().UnixNano()} }

func (st stamp) encode(sum string) string {
	return sum + " " + strconv.FormatInt(st.size, 10) + " " + strconv.FormatInt(st.mtime, 10)
}

// decodeStamped parses an xattr value; ok is false if it is malformed.
func decodeStamped(v string) (sum string, st stamp, ok bool) {
	f := strings.Fields(v)
	if len(f) != 3 || len(f[0]) != sha256.Size*2 {
		return "", stamp{}, false
	}
	if _, err := hex.DecodeString(f[0]); err != nil {
		return "", stamp{}, false
	}
	size, err1 := strconv.ParseInt(f[1], 10, 64)
	mtime, err2 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil {
		return "", stamp{}, false
	}
	return f[0], stamp{size, mtime}, true
}

// etagEntry is a digest cached in memory for a key at one stamp.
type etagEntry struct {
	st  stamp
	sum string
}

// etagCache holds digests for files whose xattr cannot be written.
type etagCache struct {
	mu sync.Mutex
	m  map[string]etagEntry
}

func (c *etagCache) get(key string, st stamp) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	return e.sum, ok && e.st == st
}

func (c *etagCache) put(key string, st stamp, sum string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[key] = etagEntry{st, sum}
}

func (c *etagCache) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}

// xattrState remembers that the file system refused user xattrs, so that
// later calls go straight to the memory cache.
type xattrState struct{ unsupported atomic.Bool }

// get returns the digest recorded on f if it was recorded at stamp st.
func (x *xattrState) get(f *os.File, st stamp) (string, bool) {
	if x.unsupported.Load() {
		return "", false
	}
	v, err := getXattr(f, xattrName)
	if err != nil {
		if errors.Is(err, errXattrUnsupported) {
			x.unsupported.Store(true)
		}
		return "", false
	}
	sum, got, ok := decodeStamped(v)
	return sum, ok && got == st
}

// set records sum on f at stamp st. Failure is not an error: the digest is
// then recomputed (once per process) when next needed.
func (x *xattrState) set(f *os.File, sum string, st stamp) bool {
	if x.unsupported.Load() {
		return false
	}
	err := setXattr(f, xattrName, st.encode(sum))
	if errors.Is(err, errXattrUnsupported) {
		x.unsupported.Store(true)
	}
	return err == nil
}

// knownETag returns the digest of the open file f if it is recorded (xattr
// or memory) for its current stamp, without reading the content.
func (s *Store) knownETag(key string, f *os.File, fi fs.FileInfo) (string, bool) {
	st := stampOf(fi)
	if sum, ok := s.xattr.get(f, st); ok {
		return sum, true
	}
	return s.etags.get(key, st)
}

// etag returns the digest of the open file f and the file info it belongs
// to, hashing the content if no valid digest is recorded.
func (s *Store) etag(ctx context.Context, key string, f *os.File, fi fs.FileInfo) (string, fs.FileInfo, error) {
	if sum, ok := s.knownETag(key, f, fi); ok {
		return sum, fi, nil
	}
	// Hash, then check the file did not change meanwhile; a writer
	// replacing the file by rename does not affect f, an in-place writer
	// does, so retry a few times before giving up.
	for range 3 {
		h := newHash()
		if _, err := io.Copy(h, ctxReader{ctx, io.NewSectionReader(f, 0, 1<<62)}); err != nil {
			return "", nil, fmt.Errorf("file: hash %q: %w", key, err)
		}
		after, err := f.Stat()
		if err != nil {
			return "", nil, fmt.Errorf("file: hash %q: %w", key, err)
		}
		if stampOf(after) == stampOf(fi) {
			sum := hex.EncodeToString(h.Sum(nil))
			if !s.xattr.set(f, sum, stampOf(fi)) {
				s.etags.put(key, stampOf(fi), sum)
			}
			return sum, fi, nil
		}
		fi = after
	}
	return "", nil, fmt.Errorf("file: hash %q: content kept changing while hashing", key)
}

// ctxReader stops a long read (hashing a multi-GB foreign file) when ctx
// ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
