package container

import (
	"bytes"
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/tierflow/tierflow/container/csvparse"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/synth"
	"github.com/tierflow/tierflow/lake/storage"
)

// Stage benchmarks on the shipped 406-column schema and synthetic data:
// go test ./container -run '^$' -bench Stage
//
// Besides ns/op (wall) they report cpu-ns/op, the process's user+system
// CPU per op: on a shared machine wall time measures the load as much as
// the code, CPU time far less.

// cpuMeter reports the process's CPU time per op when stopped.
type cpuMeter struct{ start time.Duration }

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU(b *testing.B) cpuMeter {
	b.ResetTimer()
	return cpuMeter{start: processCPU()}
}

func (m cpuMeter) stop(b *testing.B) {
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-m.start)/float64(b.N), "cpu-ns/op")
}

// stageVariants runs bench on the shipped job as is (it checks and
// normalises state) and without column checks.
func stageVariants(b *testing.B, bench func(b *testing.B, checks bool)) {
	b.Run("checks", func(b *testing.B) { bench(b, true) })
	b.Run("no-checks", func(b *testing.B) { bench(b, false) })
}

func stageInput(b *testing.B, buckets int, checks bool) (*plan, []*csvparse.Chunk) {
	b.Helper()
	spec, err := jobs.Load("../jobs/consumer-header.yaml")
	if err != nil {
		b.Fatal(err)
	}
	if !checks {
		for i := range spec.Schema.Columns {
			spec.Schema.Columns[i].Check, spec.Schema.Columns[i].Normalize = nil, 0
		}
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

// BenchmarkStageRoute is pass 1 after decompression: split records,
// check them, compute bucket and sort key, copy them to bucket buffers.
func BenchmarkStageRoute(b *testing.B) { stageVariants(b, benchRoute) }

func benchRoute(b *testing.B, checks bool) {
	p, chunks := stageInput(b, 60, checks)
	p.spillBudget = 1 << 40 // in memory: the benchmark measures CPU
	var total int64
	for _, ch := range chunks {
		total += int64(len(ch.Data))
	}
	b.SetBytes(total)
	rt := &router{}
	bt := newBatch(p)
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		a := newAccumulator(p)
		for _, ch := range chunks {
			p.routeChunk(ch, rt, bt)
			if err := a.add(bt); err != nil {
				b.Fatal(err)
			}
		}
	}
	cpu.stop(b)
}

// BenchmarkStageAssemble is pass 2 on one worker: merge, parse and convert
// every bucket, encode and write (to nowhere) its row groups. Two buckets
// of about 10,000 rows each: a real part's buckets hold tens of thousands.
func BenchmarkStageAssemble(b *testing.B) { stageVariants(b, benchAssemble) }

func benchAssemble(b *testing.B, checks bool) {
	p, chunks := stageInput(b, 2, checks)
	p.spillBudget = 1 << 40
	var total int64
	a := newAccumulator(p)
	rt := &router{}
	bt := newBatch(p)
	for _, ch := range chunks {
		total += int64(len(ch.Data))
		p.routeChunk(ch, rt, bt)
		if err := a.add(bt); err != nil {
			b.Fatal(err)
		}
	}
	saved := make([][][]byte, len(a.buckets))
	for bk := range a.buckets {
		saved[bk] = a.buckets[bk].blocks
	}
	b.SetBytes(total)
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		for bk := range a.buckets {
			a.buckets[bk].blocks = saved[bk]
		}
		as := &assembler{ctx: context.Background(), p: p, acc: a, dst: discardStore{}, encoders: 1, subChunk: chunkBytes}
		if err := as.run(1); err != nil {
			b.Fatal(err)
		}
	}
	cpu.stop(b)
}

// discardStore takes writes and keeps nothing (only Create and ObjectURI
// are used by pass 2).
type discardStore struct{ storage.Storage }

func (discardStore) Create(context.Context, string, storage.PutOptions) (storage.Writer, error) {
	return discardWriter{}, nil
}
func (discardStore) ObjectURI(key string) string { return "discard:///" + key }

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (discardWriter) Commit() error               { return nil }
func (discardWriter) Abort() error                { return nil }
