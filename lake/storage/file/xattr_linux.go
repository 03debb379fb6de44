//go:build linux

package file

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// errXattrUnsupported means the file system has no user xattrs.
var errXattrUnsupported = errors.New("user xattrs not supported")

func getXattr(f *os.File, name string) (string, error) {
	buf := make([]byte, 128) // our values are ~100 bytes
	var n int
	err := withFd(f, func(fd int) (err error) {
		n, err = unix.Fgetxattr(fd, name, buf)
		return err
	})
	if err != nil {
		return "", mapXattrErr(err)
	}
	return string(buf[:n]), nil
}

func setXattr(f *os.File, name, value string) error {
	return mapXattrErr(withFd(f, func(fd int) error {
		return unix.Fsetxattr(fd, name, []byte(value), 0)
	}))
}

func mapXattrErr(err error) error {
	if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
		return errXattrUnsupported
	}
	return err
}

// withFd runs fn on f's descriptor without switching f to blocking mode
// the way (*os.File).Fd does.
func withFd(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}
