package storage

import (
	"errors"
	"fmt"
	"strings"
)

// ErrArchived is returned (wrapped, as an *ArchivedError) when an object
// is in a storage class that must be restored before it can be read.
var ErrArchived = errors.New("storage: object is archived")

// S3 storage classes tierflow names. Every other class (STANDARD,
// INTELLIGENT_TIERING's frequent and infrequent tiers, STANDARD_IA,
// ONEZONE_IA, GLACIER_IR, REDUCED_REDUNDANCY) reads without a restore.
const (
	ClassStandard    = "STANDARD"
	ClassGlacierIR   = "GLACIER_IR"
	ClassGlacier     = "GLACIER" // Glacier Flexible Retrieval
	ClassDeepArchive = "DEEP_ARCHIVE"
)

// NeedsRestore reports whether an object of the storage class (and, for
// INTELLIGENT_TIERING, archive access tier) must be restored to be read.
func NeedsRestore(class, archiveTier string) bool {
	return class == ClassGlacier || class == ClassDeepArchive || archiveTier != ""
}

// ArchivedError says which object needs a restore and how to ask for one.
type ArchivedError struct {
	URI          string // s3://bucket/key
	StorageClass string // GLACIER, DEEP_ARCHIVE or INTELLIGENT_TIERING
	// ArchiveTier is INTELLIGENT_TIERING's ARCHIVE_ACCESS or
	// DEEP_ARCHIVE_ACCESS ("" for the other classes).
	ArchiveTier string
	// Restoring: a restore was asked for and has not finished.
	Restoring bool
}

func (e *ArchivedError) Error() string {
	class := e.StorageClass
	if e.ArchiveTier != "" {
		class += " (" + e.ArchiveTier + ")"
	}
	msg := fmt.Sprintf("%s is in storage class %s and cannot be read before it is restored", e.URI, class)
	if e.Restoring {
		return msg + "; a restore is in progress: run again once it completes (aws s3api head-object shows Restore: ongoing-request=\"false\")"
	}
	bucket, key, _ := strings.Cut(strings.TrimPrefix(e.URI, "s3://"), "/")
	req, wait := `{"Days":7,"GlacierJobParameters":{"Tier":"Bulk"}}`, "Bulk restores take 5-12 hours (Standard 3-5 hours, Expedited minutes)"
	switch {
	case e.ArchiveTier != "":
		// Intelligent-Tiering moves a restored object back to its
		// frequent access tier: no Days.
		req, wait = `{}`, "the restore takes up to 5 hours (ARCHIVE_ACCESS) or 12 hours (DEEP_ARCHIVE_ACCESS)"
	case e.StorageClass == ClassDeepArchive:
		wait = "Deep Archive restores take up to 48 hours with Bulk (12 with Standard)"
	}
	return fmt.Sprintf("%s: aws s3api restore-object --bucket %s --key %s --restore-request '%s' (%s), then run again", msg, bucket, key, req, wait)
}

// Unwrap makes errors.Is(err, ErrArchived) hold.
func (e *ArchivedError) Unwrap() error { return ErrArchived }

// Archived returns the error for reading o, an object whose Archived is
// set, at uri.
func Archived(uri string, o Object) *ArchivedError {
	return &ArchivedError{URI: uri, StorageClass: o.StorageClass, ArchiveTier: o.ArchiveTier, Restoring: o.Restoring}
}
