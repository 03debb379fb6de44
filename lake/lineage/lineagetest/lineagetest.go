// Package lineagetest is the conformance suite every lineage.Store
// implementation must pass (the embedded bbolt store and DynamoDB). It uses
// only the lineage interface.
//
// Contracts checked beyond the interface comments:
//   - Runs are keyed by (job, run id): the same id under another job is a
//     different run. A run round-trips every field; times need only keep
//     millisecond precision (the suite uses UTC millisecond times).
//   - ListRuns orders by Started, newest first; an unknown job lists nothing.
//   - FinishRun of an unknown run fails with ErrNotFound and creates nothing.
//   - An edge is identified by all of From, To, RunID and Transform: adding
//     it again (also twice in one batch) stores it once; the same pair under
//     another run is another edge. Unknown URIs have no edges (no error).
//     Edge order is not specified; the suite sorts before comparing.
//   - The owner holding a claim may claim again (a retry: same token);
//     another owner gets a *HeldError naming the holder until the holder
//     releases or the ttl passes; every new claim (after release, expiry or
//     take-over) gets a larger token; a release by a non-holder changes
//     nothing; Renew and Commit by a holder that was superseded fail.
//   - A commit is fenced: it needs the committing owner's claim with its
//     token (expired is fine, superseded is not) and the expected previous
//     published run.
//   - Of concurrent StartRun (same id), Claim (same month) and Commit (same
//     prev) calls, exactly one succeeds and every other one fails with
//     ErrConflict.
//
// The suite does not call Close: open should register its own cleanup.
package lineagetest

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierflow/tierflow/lake/lineage"
)

// Run runs the lineage conformance suite; open returns a fresh, empty store
// each call.
func Run(t *testing.T, open func(t *testing.T) lineage.Store) {
	t.Run("Runs", func(t *testing.T) { testRuns(t, open) })
	t.Run("Edges", func(t *testing.T) { testEdges(t, open) })
	t.Run("Claims", func(t *testing.T) { testClaims(t, open) })
	t.Run("Published", func(t *testing.T) { testPublished(t, open) })
}

// opener returns a fresh, empty store each call.
type opener = func(t *testing.T) lineage.Store

const job = "consumer-header"

var t0 = time.Date(2020, 4, 2, 6, 0, 0, 123_000_000, time.UTC)

// fullRun returns a run with every field set.
func fullRun(id, month string, started time.Time) lineage.Run {
	return lineage.Run{
		ID: id, Job: job, Month: month, Status: lineage.StatusRunning, Started: started,
		CodeVersion: "v1.2.3", Fingerprint: "sha256:" + id + "-inputs", Parent: "arn:aws:states:us-east-1:123456789012:execution:tierflow:" + id,
		Inputs: []lineage.Dataset{{URI: "s3://bucket/intake/" + month + "/part-1.csv.gz", Kind: "object", Tier: 0,
			Size: 7_500_000_000, SHA256: "ab12", ETag: "\"etag-1\"", Rows: 0}},
		Outputs: []lineage.Dataset{{URI: "glue://consumer.consumer_header/month=" + month, Kind: "partition", Tier: 2, Rows: 299_999_000}},
		Stages: []lineage.Stage{{Name: "convert", Wall: 4*time.Minute + 3*time.Millisecond, RowsIn: 300_000_000,
			RowsOut: 299_999_000, RowsRejected: 1000, BytesIn: 30_850_000_000, BytesOut: 9_000_000_000, Files: 60}},
		RowsIn: 300_000_000, RowsOut: 299_999_000, RowsRejected: 1000,
		Cost: lineage.Cost{VCPUSeconds: 1234.5, GBSeconds: 4321.25, AthenaScanned: 1 << 30, S3Requests: 777, USD: 0.15063},
	}
}

// canonical renders a run for comparison: times as UTC instants.
func canonical(t *testing.T, r lineage.Run) string {
	t.Helper()
	r.Started = r.Started.UTC()
	if !r.Ended.IsZero() {
		r.Ended = r.Ended.UTC()
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sameRun(t *testing.T, what string, got, want lineage.Run) {
	t.Helper()
	if g, w := canonical(t, got), canonical(t, want); g != w {
		t.Fatalf("%s:\n got  %s\n want %s", what, g, w)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got %v, want %v", what, err, target)
	}
	if n := strings.Count(": "+err.Error(), ": lineage: "); n != 1 {
		t.Fatalf("%s: %q names the lineage package %d times, want once", what, err, n)
	}
}

func mustStart(t *testing.T, s lineage.Store, r lineage.Run) {
	t.Helper()
	if err := s.StartRun(t.Context(), r); err != nil {
		t.Fatalf("start run %s: %v", r.ID, err)
	}
}

func runIDs(runs []lineage.Run) []string {
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	return ids
}

// exactlyOne runs n calls at once and checks one succeeds and the others
// fail with ErrConflict; it returns the winner's index.
func exactlyOne(t *testing.T, n int, call func(i int) error) int {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = call(i)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("calls %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, lineage.ErrConflict):
			t.Fatalf("call %d: %v, want success or ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no call succeeded: %v", errs)
	}
	return winner
}

func testRuns(t *testing.T, open opener) {
	t.Run("StartGetRoundTrip", func(t *testing.T) { runsStartGetRoundTrip(t, open) })
	t.Run("StartTwiceConflicts", func(t *testing.T) { runsStartTwiceConflicts(t, open) })
	t.Run("RunIDsScopedByJob", func(t *testing.T) { runsRunIDsScopedByJob(t, open) })
	t.Run("FinishReplaces", func(t *testing.T) { runsFinishReplaces(t, open) })
	t.Run("FinishFailedRun", func(t *testing.T) { runsFinishFailedRun(t, open) })
	t.Run("FinishUnknownNotFound", func(t *testing.T) { runsFinishUnknownNotFound(t, open) })
	t.Run("GetMissingNotFound", func(t *testing.T) { runsGetMissingNotFound(t, open) })
	t.Run("ListNewestFirstAndMonthFilter", func(t *testing.T) { runsListNewestFirstAndMonthFilter(t, open) })
	t.Run("ListSeesFinishedState", func(t *testing.T) { runsListSeesFinishedState(t, open) })
	t.Run("ConcurrentStartSameID", func(t *testing.T) { runsConcurrentStartSameID(t, open) })
}

func runsStartGetRoundTrip(t *testing.T, open opener) {
	s := open(t)
	r := fullRun("r1", "2020-03", t0)
	mustStart(t, s, r)
	got, err := s.GetRun(t.Context(), job, "r1")
	if err != nil {
		t.Fatal(err)
	}
	sameRun(t, "get", got, r)
}

func runsStartTwiceConflicts(t *testing.T, open opener) {
	s := open(t)
	first := fullRun("r1", "2020-03", t0)
	mustStart(t, s, first)
	second := fullRun("r1", "2020-04", t0.Add(time.Hour))
	wantErr(t, "second start", s.StartRun(t.Context(), second), lineage.ErrConflict)
	got, err := s.GetRun(t.Context(), job, "r1")
	if err != nil {
		t.Fatal(err)
	}
	sameRun(t, "record after conflicting start", got, first)
}

func runsRunIDsScopedByJob(t *testing.T, open opener) {
	s := open(t)
	mustStart(t, s, fullRun("r1", "2020-03", t0))
	other := fullRun("r1", "2020-03", t0)
	other.Job = "other-job"
	mustStart(t, s, other)
	got, err := s.GetRun(t.Context(), "other-job", "r1")
	if err != nil || got.Job != "other-job" {
		t.Fatalf("get other job's run: %+v, %v", got, err)
	}
}

func runsFinishReplaces(t *testing.T, open opener) {
	s := open(t)
	r := fullRun("r1", "2020-03", t0)
	mustStart(t, s, r)
	r.Status, r.Ended, r.Published = lineage.StatusComplete, t0.Add(81*time.Minute), true
	r.Outputs = append(r.Outputs, lineage.Dataset{URI: "duckdb://consumer.consumer_ca", Kind: "table", Tier: 3, Rows: 42})
	r.Error = ""
	if err := s.FinishRun(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRun(t.Context(), job, "r1")
	if err != nil {
		t.Fatal(err)
	}
	sameRun(t, "after finish", got, r)
}

func runsFinishFailedRun(t *testing.T, open opener) {
	s := open(t)
	r := fullRun("r1", "2020-03", t0)
	mustStart(t, s, r)
	r.Status, r.Ended, r.Error = lineage.StatusFailed, t0.Add(time.Minute), "part-3.csv.gz line 17: 1001 rejects exceed max_rows"
	if err := s.FinishRun(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRun(t.Context(), job, "r1")
	if err != nil || got.Status != lineage.StatusFailed || got.Error != r.Error {
		t.Fatalf("failed run stored as %+v, %v", got, err)
	}
}

func runsFinishUnknownNotFound(t *testing.T, open opener) {
	s := open(t)
	wantErr(t, "finish unknown", s.FinishRun(t.Context(), fullRun("ghost", "2020-03", t0)), lineage.ErrNotFound)
	_, err := s.GetRun(t.Context(), job, "ghost")
	wantErr(t, "get after finish of unknown", err, lineage.ErrNotFound)
}

func runsGetMissingNotFound(t *testing.T, open opener) {
	s := open(t)
	mustStart(t, s, fullRun("r1", "2020-03", t0))
	_, err := s.GetRun(t.Context(), job, "r2")
	wantErr(t, "get missing run", err, lineage.ErrNotFound)
	_, err = s.GetRun(t.Context(), "no-such-job", "r1")
	wantErr(t, "get run of missing job", err, lineage.ErrNotFound)
}

func runsListNewestFirstAndMonthFilter(t *testing.T, open opener) {
	s := open(t)
	starts := map[string]struct {
		month string
		at    time.Duration
	}{
		"a": {"2020-03", 0}, "b": {"2020-03", 3 * time.Hour}, "c": {"2020-04", 1 * time.Hour},
		"d": {"2020-04", 5 * time.Hour}, "e": {"2020-03", 2 * time.Hour},
	}
	for _, id := range []string{"c", "a", "e", "d", "b"} {
		mustStart(t, s, fullRun(id, starts[id].month, t0.Add(starts[id].at)))
	}
	other := fullRun("z", "2020-03", t0.Add(10*time.Hour))
	other.Job = "other-job"
	mustStart(t, s, other)
	for _, c := range []struct {
		month string
		want  []string
	}{{"", []string{"d", "b", "e", "c", "a"}}, {"2020-03", []string{"b", "e", "a"}}, {"2020-04", []string{"d", "c"}}, {"2021-01", nil}} {
		runs, err := s.ListRuns(t.Context(), job, c.month)
		if err != nil {
			t.Fatal(err)
		}
		if got := runIDs(runs); !slices.Equal(got, c.want) {
			t.Fatalf("list month %q: %q, want %q", c.month, got, c.want)
		}
	}
	runs, err := s.ListRuns(t.Context(), job, "2020-04")
	if err != nil {
		t.Fatal(err)
	}
	sameRun(t, "listed run", runs[0], fullRun("d", "2020-04", t0.Add(5*time.Hour)))
	if runs, err := s.ListRuns(t.Context(), "no-such-job", ""); err != nil || len(runs) != 0 {
		t.Fatalf("list unknown job: %q, %v", runIDs(runs), err)
	}
}

func runsListSeesFinishedState(t *testing.T, open opener) {
	s := open(t)
	r := fullRun("r1", "2020-03", t0)
	mustStart(t, s, r)
	r.Status = lineage.StatusSkipped
	if err := s.FinishRun(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	runs, err := s.ListRuns(t.Context(), job, "2020-03")
	if err != nil || len(runs) != 1 || runs[0].Status != lineage.StatusSkipped {
		t.Fatalf("list after finish: %+v, %v", runs, err)
	}
}

func runsConcurrentStartSameID(t *testing.T, open opener) {
	s := open(t)
	w := exactlyOne(t, 8, func(i int) error {
		return s.StartRun(t.Context(), fullRun("same", fmt.Sprintf("2020-%02d", i+1), t0))
	})
	got, err := s.GetRun(t.Context(), job, "same")
	if err != nil || got.Month != fmt.Sprintf("2020-%02d", w+1) {
		t.Fatalf("stored run is not the winner's: %+v, %v", got.Month, err)
	}
}

func sortEdges(es []lineage.Edge) []lineage.Edge {
	es = slices.Clone(es)
	slices.SortFunc(es, func(a, b lineage.Edge) int {
		return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To), cmp.Compare(a.RunID, b.RunID), cmp.Compare(a.Transform, b.Transform))
	})
	return es
}

func sameEdges(t *testing.T, what string, got, want []lineage.Edge) {
	t.Helper()
	if g, w := sortEdges(got), sortEdges(want); !slices.Equal(g, w) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, g, w)
	}
}

func testEdges(t *testing.T, open opener) {
	const (
		intake = "s3://bucket/intake/2020-03/part-1.csv.gz"
		tier1  = "s3://bucket/tier1/consumer/month=2020-03/part-1.csv.gz"
		tier2a = "s3://bucket/tier2/consumer_header/month=2020-03/run=r1/000000_0_part-1.snappy.parquet"
		tier2b = "s3://bucket/tier2/consumer_header/month=2020-03/run=r1/000001_0_part-1.snappy.parquet"
		part   = "glue://consumer.consumer_header/month=2020-03"
	)
	edges := []lineage.Edge{
		{From: intake, To: tier1, RunID: "r1", Transform: "pristine"},
		{From: tier1, To: tier2a, RunID: "r1", Transform: "convert"},
		{From: tier1, To: tier2b, RunID: "r1", Transform: "convert"},
		{From: tier2a, To: part, RunID: "r1", Transform: "publish"},
		{From: tier2b, To: part, RunID: "r1", Transform: "publish"},
	}
	t.Run("UpstreamDownstream", func(t *testing.T) {
		s := open(t)
		if err := s.AddEdges(t.Context(), edges); err != nil {
			t.Fatal(err)
		}
		down, err := s.Downstream(t.Context(), tier1)
		if err != nil {
			t.Fatal(err)
		}
		sameEdges(t, "downstream of tier 1", down, edges[1:3])
		up, err := s.Upstream(t.Context(), part)
		if err != nil {
			t.Fatal(err)
		}
		sameEdges(t, "upstream of partition", up, edges[3:5])
		up, err = s.Upstream(t.Context(), tier1)
		if err != nil {
			t.Fatal(err)
		}
		sameEdges(t, "upstream of tier 1", up, edges[:1])
		down, err = s.Downstream(t.Context(), part)
		if err != nil || len(down) != 0 {
			t.Fatalf("downstream of the last node: %+v, %v", down, err)
		}
	})
	t.Run("PrefixURIsAreDistinct", func(t *testing.T) {
		s := open(t)
		// One URI is a prefix of the other; lookups must not mix them.
		es := []lineage.Edge{
			{From: "file:///lake/a", To: "file:///lake/x", RunID: "r1", Transform: "derive"},
			{From: "file:///lake/ab", To: "file:///lake/xy", RunID: "r1", Transform: "derive"},
		}
		if err := s.AddEdges(t.Context(), es); err != nil {
			t.Fatal(err)
		}
		down, err := s.Downstream(t.Context(), "file:///lake/a")
		if err != nil {
			t.Fatal(err)
		}
		sameEdges(t, "downstream of a", down, es[:1])
		up, err := s.Upstream(t.Context(), "file:///lake/x")
		if err != nil {
			t.Fatal(err)
		}
		sameEdges(t, "upstream of x", up, es[:1])
	})
	t.Run("Idempotent", func(t *testing.T) {
		s := open(t)
		for range 2 {
			if err := s.AddEdges(t.Context(), edges); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.AddEdges(t.Context(), []lineage.Edge{edges[0], edges[0]}); err != nil {
			t.Fatal(err)
		}
		down, err := s.Downstream(t.Context(), intake)
		if err != nil {
			t.Fatal(err)
		}
		sameEdges(t, "downstream after repeated adds", down, edges[:1])
		up, err := s.Upstream(t.Context(), part)
		if err != nil {
			t.Fatal(err)
		}
		sameEdges(t, "upstream after repeated adds", up, edges[3:5])
	})
	t.Run("SamePairOtherRunKept", func(t *testing.T) {
		s := open(t)
		rerun := lineage.Edge{From: intake, To: tier1, RunID: "r2", Transform: "pristine"}
		if err := s.AddEdges(t.Context(), []lineage.Edge{edges[0], rerun}); err != nil {
			t.Fatal(err)
		}
		up, err := s.Upstream(t.Context(), tier1)
		if err != nil {
			t.Fatal(err)
		}
		sameEdges(t, "upstream with two runs", up, []lineage.Edge{edges[0], rerun})
	})
	t.Run("UnknownURIEmpty", func(t *testing.T) {
		s := open(t)
		up, err1 := s.Upstream(t.Context(), "s3://bucket/nothing")
		down, err2 := s.Downstream(t.Context(), "s3://bucket/nothing")
		if err1 != nil || err2 != nil || len(up)+len(down) != 0 {
			t.Fatalf("unknown URI: up %+v (%v), down %+v (%v)", up, err1, down, err2)
		}
	})
	t.Run("EmptyBatch", func(t *testing.T) {
		if err := open(t).AddEdges(t.Context(), nil); err != nil {
			t.Fatal(err)
		}
	})
}

// claimAs is a claim request by owner, with a holder identity to round-trip.
func claimAs(owner string) lineage.Claim {
	return lineage.Claim{Owner: owner, Host: "host-" + owner, PID: 4242, Execution: "arn:aws:states:us-east-1:123456789012:execution:tierflow:" + owner}
}

func mustClaim(t *testing.T, s lineage.Store, month, owner string, ttl time.Duration) lineage.Claim {
	t.Helper()
	c, err := s.Claim(t.Context(), job, month, claimAs(owner), ttl)
	if err != nil {
		t.Fatalf("claim %s by %s: %v", month, owner, err)
	}
	if c.Owner != owner || c.Token <= 0 {
		t.Fatalf("claim %s by %s: got %+v", month, owner, c)
	}
	return c
}

func testClaims(t *testing.T, open opener) {
	const month, ttl = "2020-03", time.Hour
	t.Run("ClaimConflictReleaseClaim", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		c1 := mustClaim(t, s, month, "r1", ttl)
		_, err := s.Claim(ctx, job, month, claimAs("r2"), ttl)
		var held *lineage.HeldError
		if !errors.As(err, &held) || !errors.Is(err, lineage.ErrConflict) {
			t.Fatalf("claim of a held month: %v, want a *HeldError wrapping ErrConflict", err)
		}
		if h := held.Holder; h.Owner != "r1" || h.Token != c1.Token || h.Host != "host-r1" || h.PID != 4242 ||
			h.Execution != claimAs("r1").Execution || h.Since.IsZero() || !h.Expires.After(time.Now()) {
			t.Fatalf("holder named by the refusal: %+v", h)
		}
		if err := s.Release(ctx, job, month, "r1"); err != nil {
			t.Fatal(err)
		}
		c2 := mustClaim(t, s, month, "r2", ttl)
		if c2.Token <= c1.Token {
			t.Fatalf("token after release %d, want more than %d", c2.Token, c1.Token)
		}
		_, err = s.Claim(ctx, job, month, claimAs("r1"), ttl)
		wantErr(t, "old holder reclaims", err, lineage.ErrConflict)
	})
	t.Run("RetryKeepsToken", func(t *testing.T) {
		s := open(t)
		c1 := mustClaim(t, s, month, "r1", time.Minute)
		c2 := mustClaim(t, s, month, "r1", ttl)
		if c2.Token != c1.Token || !c2.Expires.After(c1.Expires) {
			t.Fatalf("retried claim %+v after %+v: want the same token, a later expiry", c2, c1)
		}
		_, err := s.Claim(t.Context(), job, month, claimAs("r2"), ttl)
		wantErr(t, "other owner after renewal", err, lineage.ErrConflict)
	})
	t.Run("ReleaseByOtherIsNoop", func(t *testing.T) {
		s := open(t)
		mustClaim(t, s, month, "r1", ttl)
		if err := s.Release(t.Context(), job, month, "r2"); err != nil {
			t.Fatalf("release by non-holder: %v", err)
		}
		_, err := s.Claim(t.Context(), job, month, claimAs("r3"), ttl)
		wantErr(t, "claim after foreign release", err, lineage.ErrConflict)
		if err := s.Release(t.Context(), job, "2099-01", "r1"); err != nil {
			t.Fatalf("release of unclaimed month: %v", err)
		}
	})
	t.Run("ExpiredClaimTakenOver", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		c1 := mustClaim(t, s, month, "r1", 50*time.Millisecond)
		_, err := s.Claim(ctx, job, month, claimAs("r2"), ttl)
		wantErr(t, "claim before expiry", err, lineage.ErrConflict)
		time.Sleep(150 * time.Millisecond)
		c2 := mustClaim(t, s, month, "r2", ttl)
		if c2.Token <= c1.Token {
			t.Fatalf("token %d after expiry, want more than %d", c2.Token, c1.Token)
		}
		_, err = s.Claim(ctx, job, month, claimAs("r1"), ttl)
		wantErr(t, "expired holder reclaims", err, lineage.ErrConflict)
		wantErr(t, "expired holder renews", s.Renew(ctx, job, month, "r1", c1.Token, ttl), lineage.ErrConflict)
	})
	t.Run("TakeOverLiveClaim", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		c1 := mustClaim(t, s, month, "r1", ttl)
		stale := c1
		stale.Token++
		_, err := s.TakeOver(ctx, job, month, stale, claimAs("r2"), ttl)
		wantErr(t, "take over with the wrong token", err, lineage.ErrConflict)
		c2, err := s.TakeOver(ctx, job, month, c1, claimAs("r2"), ttl)
		if err != nil || c2.Owner != "r2" || c2.Token <= c1.Token {
			t.Fatalf("take over: %+v, %v", c2, err)
		}
		_, err = s.TakeOver(ctx, job, month, c1, claimAs("r3"), ttl)
		wantErr(t, "second take over from the same holder", err, lineage.ErrConflict)
		wantErr(t, "taken-over holder renews", s.Renew(ctx, job, month, "r1", c1.Token, ttl), lineage.ErrConflict)
		if err := s.Renew(ctx, job, month, "r2", c2.Token, ttl); err != nil {
			t.Fatalf("new holder renews: %v", err)
		}
	})
	t.Run("RenewFencedAfterRelease", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		c1 := mustClaim(t, s, month, "r1", ttl)
		if err := s.Renew(ctx, job, month, "r1", c1.Token, ttl); err != nil {
			t.Fatal(err)
		}
		if err := s.Release(ctx, job, month, "r1"); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "renew after release", s.Renew(ctx, job, month, "r1", c1.Token, ttl), lineage.ErrConflict)
		m, err := s.Month(ctx, job, month)
		if err != nil || m.Claim.Owner != "" {
			t.Fatalf("month after release: %+v, %v", m, err)
		}
	})
	t.Run("MonthsAndJobsIndependent", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		for _, c := range [][2]string{{job, month}, {job, "2020-04"}, {"other-job", month}} {
			if _, err := s.Claim(ctx, c[0], c[1], claimAs("r-"+c[0]+"-"+c[1]), ttl); err != nil {
				t.Fatalf("claim %v: %v", c, err)
			}
		}
	})
	t.Run("ConcurrentClaimExactlyOne", func(t *testing.T) {
		s := open(t)
		w := exactlyOne(t, 8, func(i int) error {
			_, err := s.Claim(t.Context(), job, month, claimAs(fmt.Sprintf("r%d", i)), ttl)
			return err
		})
		mustClaim(t, s, month, fmt.Sprintf("r%d", w), ttl)
		_, err := s.Claim(t.Context(), job, month, claimAs(fmt.Sprintf("r%d", (w+1)%8)), ttl)
		wantErr(t, "loser after race", err, lineage.ErrConflict)
	})
}

func testPublished(t *testing.T, open opener) {
	const month, ttl = "2020-03", time.Hour
	commit := func(s lineage.Store, owner string, token int64, run, prev string) error {
		return s.Commit(t.Context(), job, month, owner, lineage.Commit{RunID: run, Prev: prev, Token: token, At: t0})
	}
	published := func(s lineage.Store) string {
		t.Helper()
		m, err := s.Month(t.Context(), job, month)
		if err != nil {
			t.Fatal(err)
		}
		return m.Published.RunID
	}
	t.Run("MissingNotFound", func(t *testing.T) {
		s := open(t)
		_, err := s.Published(t.Context(), job, month)
		wantErr(t, "published before any publish", err, lineage.ErrNotFound)
		m, err := s.Month(t.Context(), job, month)
		if err != nil || m != (lineage.Month{}) {
			t.Fatalf("month never touched: %+v, %v", m, err)
		}
	})
	t.Run("CommitRollForwardMove", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		c := mustClaim(t, s, month, "r1#a", ttl)
		if err := commit(s, "r1#a", c.Token, "r1", ""); err != nil {
			t.Fatal(err)
		}
		m, err := s.Month(ctx, job, month)
		if err != nil || m.Published.RunID != "r1" || m.Published.Token != c.Token || m.Published.RolledForward || !m.Published.At.Equal(t0) {
			t.Fatalf("month after commit: %+v, %v", m, err)
		}
		if got, err := s.Published(ctx, job, month); err != nil || got != "r1" {
			t.Fatalf("published = %q, %v", got, err)
		}
		if err := s.MarkRolledForward(ctx, job, month, "r1", c.Token+1); err != nil {
			t.Fatal(err)
		}
		if m, _ := s.Month(ctx, job, month); m.Published.RolledForward {
			t.Fatal("rolled forward marked with another token")
		}
		if err := s.MarkRolledForward(ctx, job, month, "r1", c.Token); err != nil {
			t.Fatal(err)
		}
		if m, _ := s.Month(ctx, job, month); !m.Published.RolledForward {
			t.Fatal("rolled forward not recorded")
		}
		if err := s.Release(ctx, job, month, "r1#a"); err != nil {
			t.Fatal(err)
		}
		c2 := mustClaim(t, s, month, "r2#b", ttl)
		if err := commit(s, "r2#b", c2.Token, "r2", "r1"); err != nil {
			t.Fatal(err)
		}
		m, _ = s.Month(ctx, job, month)
		if m.Published.RunID != "r2" || m.Published.Prev != "r1" || m.Published.RolledForward {
			t.Fatalf("month after the second commit: %+v", m.Published)
		}
		// Rollback is just another commit.
		if err := s.Commit(ctx, job, month, "r2#b", lineage.Commit{RunID: "r1", Prev: "r2", Token: c2.Token, Rollback: true}); err != nil {
			t.Fatal(err)
		}
		if m, _ := s.Month(ctx, job, month); m.Published.RunID != "r1" || !m.Published.Rollback {
			t.Fatalf("published after rollback = %+v", m.Published)
		}
		if _, err := s.Published(ctx, job, "2020-04"); !errors.Is(err, lineage.ErrNotFound) {
			t.Fatalf("other month: %v", err)
		}
	})
	t.Run("CommitFencedByToken", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		wantErr(t, "commit without a claim", commit(s, "r1#a", 1, "r1", ""), lineage.ErrConflict)
		stale := mustClaim(t, s, month, "r1#a", 50*time.Millisecond)
		time.Sleep(120 * time.Millisecond)
		// Expired but not superseded: the holder may still commit.
		if err := commit(s, "r1#a", stale.Token, "r1", ""); err != nil {
			t.Fatalf("commit by an expired, unsuperseded holder: %v", err)
		}
		time.Sleep(120 * time.Millisecond)
		c2 := mustClaim(t, s, month, "r2#b", ttl)
		wantErr(t, "commit by the superseded holder", commit(s, "r1#a", stale.Token, "r9", "r1"), lineage.ErrConflict)
		wantErr(t, "commit with the new owner but the old token", commit(s, "r2#b", stale.Token, "r9", "r1"), lineage.ErrConflict)
		wantErr(t, "commit by another owner with the token", commit(s, "r1#a", c2.Token, "r9", "r1"), lineage.ErrConflict)
		if got := published(s); got != "r1" {
			t.Fatalf("fenced commits moved the published run to %q", got)
		}
		if err := s.Release(ctx, job, month, "r2#b"); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "commit after release", commit(s, "r2#b", c2.Token, "r2", "r1"), lineage.ErrConflict)
	})
	t.Run("CommitPrevMismatch", func(t *testing.T) {
		s := open(t)
		c := mustClaim(t, s, month, "r1#a", ttl)
		wantErr(t, "first commit with a prev", commit(s, "r1#a", c.Token, "r1", "r0"), lineage.ErrConflict)
		if got := published(s); got != "" {
			t.Fatalf("failed commit created the published run %q", got)
		}
		if err := commit(s, "r1#a", c.Token, "r1", ""); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "commit with prev \"\" when set", commit(s, "r1#a", c.Token, "r2", ""), lineage.ErrConflict)
		wantErr(t, "commit with the wrong prev", commit(s, "r1#a", c.Token, "r2", "r9"), lineage.ErrConflict)
		if got := published(s); got != "r1" {
			t.Fatalf("published run moved by failed commits: %q", got)
		}
	})
	t.Run("ConcurrentExactlyOne", func(t *testing.T) {
		s := open(t)
		c := mustClaim(t, s, month, "r#a", ttl)
		w := exactlyOne(t, 8, func(i int) error {
			return commit(s, "r#a", c.Token, fmt.Sprintf("r%d", i), "")
		})
		if got := published(s); got != fmt.Sprintf("r%d", w) {
			t.Fatalf("published = %q; want the winner r%d", got, w)
		}
	})
}
