package runner

import (
	"time"

	"github.com/tierflow/tierflow/lake/lineage"
)

// Prices of the cost ledger (us-east-1, Linux/x86, on-demand), in USD.
//
// Local runs are priced "as if on Fargate": the CPU time the run used is
// billed at Fargate's vCPU-hour rate and its peak memory × wall time at the
// GB-hour rate. That is a lower bound of what a Fargate task would cost
// (a task is billed for its provisioned size for its whole life, idle cores
// included), but it is comparable between runs and machines.
const (
	// FargateVCPUHourUSD is the Fargate price per vCPU-hour
	// (https://aws.amazon.com/fargate/pricing/, us-east-1 Linux/x86,
	// on-demand; as quoted in March 2026 by third-party pricing guides,
	// not re-checked on AWS's page).
	FargateVCPUHourUSD = 0.04048
	// FargateGBHourUSD is the Fargate price per GB-hour of memory (same
	// source). Fargate's "GB" of task memory is 2^30 bytes.
	FargateGBHourUSD = 0.004445

	// AthenaUSDPerTB is Athena's price per TB scanned
	// (https://aws.amazon.com/athena/pricing/). A TB here is 2^40 bytes:
	// the seed case study's own figures (30.85 GB → $0.15063, 1.75 GB →
	// $0.00854, 0.18 GB → $0.00088) are reproduced exactly with 2^30-byte
	// GB and 2^40-byte TB, and not with powers of ten.
	AthenaUSDPerTB = 5.0
	// AthenaBytesPerTB is the TB of AthenaUSDPerTB.
	AthenaBytesPerTB = 1 << 40
	// AthenaMinBytesPerQuery is the minimum billed per query (10 MB);
	// bytes are rounded up to the next MB (2^20 bytes).
	AthenaMinBytesPerQuery = 10 << 20
)

// AthenaBilledBytes is what Athena bills one query that scanned the given
// bytes for: rounded up to the next MB, at least 10 MB. A statement that
// scanned nothing (DDL, a failed query) is free.
func AthenaBilledBytes(scanned int64) int64 {
	if scanned <= 0 {
		return 0
	}
	const mb = 1 << 20
	b := (scanned + mb - 1) / mb * mb
	return max(b, AthenaMinBytesPerQuery)
}

// AthenaQueryUSD is the price of one Athena query that scanned the given
// bytes.
func AthenaQueryUSD(scanned int64) float64 {
	return float64(AthenaBilledBytes(scanned)) / AthenaBytesPerTB * AthenaUSDPerTB
}

// FargateUSD is the price of the given vCPU-seconds and GB-seconds.
func FargateUSD(vcpuSeconds, gbSeconds float64) float64 {
	return vcpuSeconds/3600*FargateVCPUHourUSD + gbSeconds/3600*FargateGBHourUSD
}

// Usage is a snapshot of the resources this process and its finished
// children have used so far (getrusage RUSAGE_SELF and RUSAGE_CHILDREN).
type Usage struct {
	SelfCPU     time.Duration // user + system CPU time of this process
	ChildrenCPU time.Duration // user + system CPU time of waited-for children
	// Peak resident set sizes in bytes: of this process so far, and of the
	// largest waited-for child. They are high-water marks, not deltas.
	SelfMaxRSS     int64
	ChildrenMaxRSS int64
}

// CPU is the total CPU time of the snapshot.
func (u Usage) CPU() time.Duration { return u.SelfCPU + u.ChildrenCPU }

// MaxRSS is the larger of the two peaks.
func (u Usage) MaxRSS() int64 { return max(u.SelfMaxRSS, u.ChildrenMaxRSS) }

// MeasureCost fills a run's cost ledger from usage snapshots taken at its
// start and end, its wall time and the Athena bytes its queries scanned:
//
//   - VCPUSeconds: CPU time used between the snapshots (self + children);
//   - GBSeconds: peak RSS (GB of 2^30 bytes) × wall. The peak is the
//     process's high-water mark at end, so for a long-lived process that
//     did more before the run it is an upper bound;
//   - AthenaScanned: as given; S3Requests: left to the runner, which counts
//     what the S3 store sends;
//   - USD: FargateUSD(VCPUSeconds, GBSeconds) plus Athena at $5/TB.
//
// Athena's 10 MB minimum is per query, but only the total and the number of
// queries are known here, so the billed bytes are max(total rounded up to
// MB, queries × 10 MB): exact when every query scanned 10 MB or more, or
// all scanned less, and a lower bound otherwise. Sum AthenaQueryUSD per
// query where the figures are known one by one.
func MeasureCost(start, end Usage, wall time.Duration, athenaScanned int64, athenaQueries int) lineage.Cost {
	cpu := max(end.CPU()-start.CPU(), 0)
	c := lineage.Cost{
		VCPUSeconds:   cpu.Seconds(),
		GBSeconds:     float64(end.MaxRSS()) / (1 << 30) * max(wall, 0).Seconds(),
		AthenaScanned: athenaScanned,
	}
	c.USD = FargateUSD(c.VCPUSeconds, c.GBSeconds)
	if athenaScanned > 0 || athenaQueries > 0 {
		billed := max(AthenaBilledBytes(athenaScanned), int64(athenaQueries)*AthenaMinBytesPerQuery)
		c.USD += float64(billed) / AthenaBytesPerTB * AthenaUSDPerTB
	}
	return c
}
