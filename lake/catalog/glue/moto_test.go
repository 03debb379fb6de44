package glue_test

import (
	"errors"
	"testing"

	"github.com/tierflow/tierflow/lake/awsfake"
	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/catalog/catalogtest"
	"github.com/tierflow/tierflow/lake/catalog/glue"
	"github.com/tierflow/tierflow/lake/mototest"
)

// motoIgnoresVersionID: Glue's UpdateTable takes VersionId for optimistic
// locking and answers ConcurrentModificationException when it is stale
// (Glue API reference, UpdateTable; awsfake's Glue, now gone, did so); moto
// 5.2.1 ignores it and overwrites.
const motoIgnoresVersionID = "moto 5.2.1's UpdateTable ignores VersionId; Glue refuses a stale one with ConcurrentModificationException"

// TestConformance runs the suite against moto's Glue, an implementation of
// the API written by others than this client's authors, through awsfake,
// which checks every request's SigV4 signature. Every open is a fresh moto
// account, so an empty catalog.
func TestConformance(t *testing.T) {
	mototest.Endpoint(t)
	catalogtest.Run(t, mototest.Except(t, func(t *testing.T) catalog.Catalog {
		srv, _ := awsfake.OnMoto(t)
		return glue.New(srv.Config(), glue.Options{})
	}, map[string]string{"Table/ConditionalUpdate": motoIgnoresVersionID}))
}

// TestMotoIgnoresVersionID pins the divergence the conformance run skips:
// when moto starts refusing a stale VersionId, this fails, and the skip
// above must go.
func TestMotoIgnoresVersionID(t *testing.T) {
	ctx := t.Context()
	c := glue.New(mototest.NewAccount(t), glue.Options{})
	if err := c.EnsureDatabase(ctx, "consumer"); err != nil {
		t.Fatal(err)
	}
	if err := c.PutTable(ctx, consumerHeader()); err != nil {
		t.Fatal(err)
	}
	read, err := c.GetTable(ctx, "consumer", "consumer_header")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PutTable(ctx, read); err != nil {
		t.Fatal(err)
	}
	err = c.PutTable(ctx, read) // read.Version is stale now
	switch {
	case errors.Is(err, catalog.ErrConflict):
		t.Fatal("moto now refuses a stale VersionId as Glue does: drop the known divergence in TestConformanceMoto")
	case err != nil:
		t.Fatalf("stale put: %v", err)
	}
}
