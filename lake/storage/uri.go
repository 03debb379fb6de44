package storage

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidURI is returned (wrapped) by ParseURI for a malformed lake URI.
var ErrInvalidURI = errors.New("storage: invalid lake URI")

// ParseURI splits a lake URI into its scheme and root.
//
//	file:///abs/lake      → "file", "/abs/lake"
//	file://./lake         → "file", "./lake"  (relative, as job specs write it)
//	file://localhost/abs  → "file", "/abs"
//	s3://bucket/prefix/   → "s3",   "bucket/prefix"
//
// The scheme is returned lowercase and trailing slashes are removed from the
// root (except a bare "/"). Paths are taken literally, without percent
// decoding, the way S3 and Athena locations are written. A string without
// "scheme://" is rejected rather than guessed at.
func ParseURI(uri string) (scheme, root string, err error) {
	i := strings.Index(uri, "://")
	if i <= 0 {
		return "", "", fmt.Errorf("parse %q: %w: want scheme://root", uri, ErrInvalidURI)
	}
	scheme = strings.ToLower(uri[:i])
	if !validScheme(scheme) {
		return "", "", fmt.Errorf("parse %q: %w: bad scheme %q", uri, ErrInvalidURI, scheme)
	}
	rest := uri[i+3:]
	if strings.ContainsAny(rest, "\x00\\") {
		return "", "", fmt.Errorf("parse %q: %w: NUL or backslash in root", uri, ErrInvalidURI)
	}
	if scheme == "file" {
		// RFC 8089 allows an empty or "localhost" authority; anything else
		// after "file://" is read as a path so that "file://./lake" works.
		if after, ok := strings.CutPrefix(rest, "localhost/"); ok {
			rest = "/" + after
		}
		root = trimSlashes(rest)
		if root == "" {
			return "", "", fmt.Errorf("parse %q: %w: empty path", uri, ErrInvalidURI)
		}
		return scheme, root, nil
	}
	root = trimSlashes(rest)
	if root == "" || strings.HasPrefix(root, "/") {
		return "", "", fmt.Errorf("parse %q: %w: missing bucket or host", uri, ErrInvalidURI)
	}
	return scheme, root, nil
}

// trimSlashes removes trailing slashes but keeps a lone "/".
func trimSlashes(s string) string {
	t := strings.TrimRight(s, "/")
	if t == "" && s != "" {
		return "/"
	}
	return t
}

// validScheme reports whether s is an RFC 3986 scheme (already lowercased).
func validScheme(s string) bool {
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}
