//go:build !unix

package local

import (
	"context"
	"errors"
)

// lockFile is not implemented off Unix: the local catalog needs flock.
func lockFile(context.Context, string) (func(), error) {
	return nil, errors.New("file locking is only implemented on Unix")
}
