package s3

import (
	"context"
	"sync/atomic"

	"github.com/aws/smithy-go/middleware"
)

// countRequests counts every request the client sends, retries included:
// S3 bills each one.
func countRequests(n *atomic.Int64) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("tierflowCountRequests",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				n.Add(1)
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
	}
}

// Requests is the number of requests this store has sent to S3 (every
// attempt of every call, as S3 bills them).
func (s *Store) Requests() int64 { return s.requests.Load() }
