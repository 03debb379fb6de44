package storage

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrInvalidKey is returned (wrapped) for a key outside the portable key
// syntax checked by CheckKey.
var ErrInvalidKey = errors.New("storage: invalid object key")

// ErrInvalidRange is returned (wrapped) by OpenRange when offset is negative
// or lies beyond the end of the object.
var ErrInvalidRange = errors.New("storage: invalid byte range")

// MaxKeyLen is S3's key length limit in bytes.
const MaxKeyLen = 1024

// CheckKey reports whether key is a portable object key: non-empty valid
// UTF-8 of at most MaxKeyLen bytes, made of "/"-separated segments none of
// which is empty, "." or "..", with no backslash and no NUL. The same key
// must mean the same object on every backend, so implementations reject
// anything else (a file system would collapse "a//b" into "a/b", and ".."
// would leave the root) with an error wrapping ErrInvalidKey.
func CheckKey(key string) error {
	bad := func(why string) error { return fmt.Errorf("key %q: %w: %s", key, ErrInvalidKey, why) }
	switch {
	case key == "":
		return bad("empty")
	case len(key) > MaxKeyLen:
		return bad("longer than 1024 bytes")
	case !utf8.ValidString(key):
		return bad("not UTF-8")
	case strings.ContainsAny(key, "\x00\\"):
		return bad("contains NUL or backslash")
	case strings.HasPrefix(key, "/"):
		return bad("absolute")
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return bad("empty segment")
		case ".", "..":
			return bad("dot segment")
		}
	}
	return nil
}

// JoinKey joins key parts with single slashes: empty parts are dropped,
// leading and repeated slashes removed. A trailing slash on the last part is
// kept, so JoinKey("tier2", table, "") is "tier2/<table>" while
// JoinKey("tier2", table+"/") is the listing prefix "tier2/<table>/". JoinKey
// does not resolve "." or ".."; CheckKey rejects them.
func JoinKey(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		for seg := range strings.SplitSeq(p, "/") {
			if seg == "" {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('/')
			}
			b.WriteString(seg)
		}
	}
	if n := len(parts); n > 0 && b.Len() > 0 && strings.HasSuffix(parts[n-1], "/") {
		b.WriteByte('/')
	}
	return b.String()
}

// CheckRange validates an OpenRange request against an object of size bytes
// and returns the number of bytes to read. The contract every backend
// follows: offset must be in [0, size] (offset == size yields an empty
// reader), length < 0 means "to the end", and a length running past the end
// is clipped. Anything else is an error wrapping ErrInvalidRange.
func CheckRange(key string, offset, length, size int64) (int64, error) {
	if offset < 0 || offset > size {
		return 0, fmt.Errorf("key %q: %w: offset %d, size %d", key, ErrInvalidRange, offset, size)
	}
	n := size - offset
	if length >= 0 && length < n {
		n = length
	}
	return n, nil
}
