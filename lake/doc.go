// Package lake holds the four interfaces a tierflow job runs against, one
// sub-package each: storage (objects), catalog (tables and partitions),
// engine (CTAS for derived tiers) and lineage (runs and the edges between
// datasets). Each interface has a local implementation (the embedded
// default) and an AWS one, and one conformance suite that both must pass.
//
// Errors: a sentinel's text starts with its package name; wrapping adds context, never that name again.
package lake
