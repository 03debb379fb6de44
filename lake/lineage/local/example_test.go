package local_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/lineage/local"
)

// One run of a job for a month: claim the month, record the run, publish it
// with the commit, and read back what the month holds.
func Example() {
	dir, err := os.MkdirTemp("", "lineage-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := local.Open(filepath.Join(dir, "lineage.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const job, month = "consumer-header", "2020-03"

	claim, err := s.Claim(ctx, job, month, lineage.Claim{Owner: "r1#a"}, time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("claimed by", claim.Owner, "token", claim.Token)
	_, err = s.Claim(ctx, job, month, lineage.Claim{Owner: "r2#b"}, time.Hour)
	fmt.Println("second claim conflicts:", errors.Is(err, lineage.ErrConflict))

	run := lineage.Run{ID: "r1", Job: job, Month: month, Status: lineage.StatusRunning,
		Started: time.Date(2020, 4, 1, 2, 0, 0, 0, time.UTC)}
	if err := s.StartRun(ctx, run); err != nil {
		log.Fatal(err)
	}
	run.Status, run.Ended, run.RowsIn, run.RowsOut = lineage.StatusComplete, run.Started.Add(time.Minute), 3, 3
	if err := s.FinishRun(ctx, run); err != nil {
		log.Fatal(err)
	}
	got, err := s.GetRun(ctx, job, "r1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.ID, got.Status, got.RowsOut, got.Ended.Sub(got.Started))

	// Publish: one conditional write, valid only for the claim's token.
	if err := s.Commit(ctx, job, month, claim.Owner, lineage.Commit{RunID: "r1", Token: claim.Token}); err != nil {
		log.Fatal(err)
	}
	if err := s.Release(ctx, job, month, claim.Owner); err != nil {
		log.Fatal(err)
	}
	m, err := s.Month(ctx, job, month)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("published %s (token %d), held by %q\n", m.Published.RunID, m.Published.Token, m.Claim.Owner)

	_, err = s.GetRun(ctx, job, "r9")
	fmt.Println(err)
	// Output:
	// claimed by r1#a token 1
	// second claim conflicts: true
	// r1 COMPLETE 3 1m0s
	// published r1 (token 1), held by ""
	// run consumer-header/r9: lineage: not found
}
