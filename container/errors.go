package container

import (
	"errors"
	"fmt"
	"io"

	"github.com/tierflow/tierflow/container/gunzip"
)

// Errors of input that cannot be converted at all. Convert returns them
// wrapped in a *ParseError, which says where; test them with errors.Is.
// Bad rows are not errors: they go to the rejects sidecar, and a part
// with too many of them fails with a *RejectsError.
var (
	ErrNotGzip         = errors.New("container: not a gzip file")
	ErrTruncatedGzip   = errors.New("container: truncated gzip input")
	ErrCorruptGzip     = errors.New("container: corrupt gzip data")
	ErrNoHeader        = errors.New("container: no header record (empty part)")
	ErrMalformedHeader = errors.New("container: malformed header record")
	ErrHeaderMismatch  = errors.New("container: header does not match the agreed header sample")
)

// Errors of options that cannot be converted with.
var (
	ErrNoSpec   = errors.New("container: no job spec")
	ErrPartName = errors.New("container: invalid part name")
)

// errTooManyRejects stops a conversion that found more than max_rows
// rejects; run replaces it by the verdict's RejectsError.
var errTooManyRejects = errors.New("container: too many rejected rows")

// ParseError is input of a part that cannot be converted at all, with
// where it went wrong, as encoding/csv's ParseError. Its Err is one of
// the Err variables above, possibly wrapping the decompressor's error.
type ParseError struct {
	Part  string // the part's name
	Input string // the input object's URI
	// Line is the 1-based line of the decompressed input at fault, 0 when
	// the fault is in the gzip stream; Offset is the byte offset of the
	// decompressed input when Line is set, else Err says where in the
	// compressed input.
	Line   int64
	Offset int64
	Column string // the column at fault, "" when the record or the stream is
	Err    error  // the reason
}

// Error names the input and where; Convert's error adds the part.
func (e *ParseError) Error() string {
	s := ""
	if e.Input != "" {
		s = e.Input + ": "
	}
	if e.Line > 0 {
		s += fmt.Sprintf("line %d, byte offset %d: ", e.Line, e.Offset)
	}
	if e.Column != "" {
		s += "column " + e.Column + ": "
	}
	return s + e.Err.Error()
}

func (e *ParseError) Unwrap() error { return e.Err }

// ReadError is a part whose input the storage failed to deliver midway:
// not a fault of the input, so not a ParseError. Offset is the compressed
// byte offset read so far; Err is the storage's error.
type ReadError struct {
	Offset int64
	Err    error
}

func (e *ReadError) Error() string {
	return fmt.Sprintf("read input at compressed byte offset %d: %v", e.Offset, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

// gzipError words a read failure: truncated or corrupt gzip, at the
// compressed offset where the decoder stopped, or else (a checksum
// mismatch, found after the member) the offset reached: the decompressor
// reads ahead, so the fault lies at or before it.
func gzipError(err error, compressedOffset, total int64) error {
	what := ErrCorruptGzip
	if errors.Is(err, io.ErrUnexpectedEOF) {
		what = ErrTruncatedGzip
	}
	where := "at or before"
	if ge, ok := errors.AsType[*gunzip.Error](err); ok {
		compressedOffset, where = ge.Offset, "at"
	}
	return &ParseError{Offset: compressedOffset, Err: fmt.Errorf("%w %s compressed byte offset %d (of %d): %w", what, where, compressedOffset, total, err)}
}
