package container

import (
	"bytes"
	"context"
	"testing"

	"github.com/tierflow/tierflow/container/csvparse"
	"github.com/tierflow/tierflow/container/pqwrite"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/synth"
)

// Stage benchmarks on the shipped 406-column schema and synthetic data:
// go test ./container -run '^$' -bench Stage

func stageInput(b *testing.B, buckets int) (*plan, []*csvparse.Chunk) {
	b.Helper()
	spec, err := jobs.Load("../jobs/consumer-header.yaml")
	if err != nil {
		b.Fatal(err)
	}
	spec.Output.BucketCount = buckets
	var buf bytes.Buffer
	if _, err := synth.WritePart(context.Background(), &buf, spec, synth.Options{Rows: 20000, Parts: 1, Seed: 1, Month: "2024-01"}, 0); err != nil {
		b.Fatal(err)
	}
	p, err := newPlan(Options{Spec: spec, Part: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	c := csvparse.NewChunker(&buf, ',', chunkBytes)
	var chunks []*csvparse.Chunk
	for {
		ch, err := c.Next()
		if err != nil {
			break
		}
		chunks = append(chunks, ch)
	}
	b.SetBytes(int64(buf.Cap()))
	return p, chunks
}

func BenchmarkStageParse(b *testing.B) {
	p, chunks := stageInput(b, 60)
	var total int64
	for _, ch := range chunks {
		total += int64(len(ch.Data))
	}
	b.SetBytes(total)
	bt := newBatch(p)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, ch := range chunks {
			p.parseChunk(ch, bt)
		}
	}
}

// BenchmarkStageAccumulateEncode uses 4 buckets so that row groups have
// about 5,000 rows, as in a real part (60 buckets, a few hundred MiB of
// buffers).
func BenchmarkStageAccumulateEncode(b *testing.B) {
	p, chunks := stageInput(b, 4)
	var total int64
	var batches []*batch
	for _, ch := range chunks {
		total += int64(len(ch.Data))
		bt := newBatch(p)
		p.parseChunk(ch, bt)
		batches = append(batches, bt)
	}
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := newAccumulator(context.Background(), p, nil, "")
		a.stop() // encoders not used: row groups are written below
		enc := []*pqwrite.Encoder{{}}
		for _, bt := range batches {
			for bk := 0; bk < p.bucketCount; bk++ {
				buf := &a.buckets[bk]
				lo, hi := bt.starts[bk], bt.starts[bk+1]
				if lo == hi {
					continue
				}
				for c := range p.cols {
					var sr strRange
					if p.cols[c].phys == pqwrite.ByteArray {
						ds, ls := bt.dataStart[c], bt.longStart[c]
						sr = strRange{ds[bk], ds[bk+1], ls[bk], ls[bk+1]}
					}
					appendRange(nil, &p.cols[c], &buf.cols[c], &bt.cols[c], buf.rows, lo, hi, sr)
				}
				buf.rows += hi - lo
			}
		}
		for bk := range a.buckets {
			buf := &a.buckets[bk]
			if buf.rows == 0 {
				continue
			}
			w, err := pqwrite.NewWriter(discard{}, p.schema)
			if err != nil {
				b.Fatal(err)
			}
			cols := make([]*pqwrite.Column, len(buf.cols))
			for c := range buf.cols {
				if p.cols[c].phys == pqwrite.ByteArray {
					buf.cols[c].FillEnds(nil)
				}
				cols[c] = &buf.cols[c]
			}
			perm := a.sortPerm(buf.cols, buf.rows, nil)
			if len(perm) == 0 {
				perm = nil
			}
			if err := w.WriteRowGroup(enc, cols, perm, buf.rows, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
