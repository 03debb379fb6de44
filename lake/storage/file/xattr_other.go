//go:build !linux

package file

import (
	"errors"
	"os"
)

// errXattrUnsupported means the file system has no user xattrs; outside
// Linux the store always uses its in-memory digest cache.
var errXattrUnsupported = errors.New("user xattrs not supported")

func getXattr(*os.File, string) (string, error) { return "", errXattrUnsupported }

func setXattr(*os.File, string, string) error { return errXattrUnsupported }
