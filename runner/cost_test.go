package runner

import (
	"math"
	"testing"
	"time"
)

func TestAthenaBilledBytes(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct{ scanned, want int64 }{
		{0, 0},
		{-5, 0},
		{1, 10 * mb},
		{10*mb - 1, 10 * mb},
		{10 * mb, 10 * mb},
		{10*mb + 1, 11 * mb},
		{1 << 40, 1 << 40},
	} {
		if got := AthenaBilledBytes(tc.scanned); got != tc.want {
			t.Errorf("AthenaBilledBytes(%d) = %d, want %d", tc.scanned, got, tc.want)
		}
	}
}

// TestAthenaQueryUSDCaseStudy reproduces the seed case study's cost column
// from its data-scanned column (GB as the Athena console prints them, 2^30).
func TestAthenaQueryUSDCaseStudy(t *testing.T) {
	for _, tc := range []struct {
		gb   float64
		want float64
	}{
		{30.85, 0.15063},
		{1.75, 0.00854},
		{0.18, 0.00088},
	} {
		// The console rounds GB to 0.01 and the study cost to $0.00001.
		tol := 0.005/1024*5 + 0.000005
		got := AthenaQueryUSD(int64(tc.gb * (1 << 30)))
		if math.Abs(got-tc.want) > tol {
			t.Errorf("%.2f GB: $%.6f, case study says $%.5f", tc.gb, got, tc.want)
		}
		// Powers of ten (TB = 10^12) would not reproduce it.
		if dec := tc.gb * (1 << 30) / 1e12 * 5; math.Abs(dec-tc.want) <= tol {
			t.Errorf("%.2f GB: 10^12-byte TB also matches ($%.6f); the unit test proves nothing", tc.gb, dec)
		}
	}
	// 10 MB minimum: a 1-byte query costs as much as a 10 MB one.
	if AthenaQueryUSD(1) != AthenaQueryUSD(10<<20) || AthenaQueryUSD(1) <= 0 {
		t.Errorf("minimum: %v vs %v", AthenaQueryUSD(1), AthenaQueryUSD(10<<20))
	}
}

func TestMeasureCost(t *testing.T) {
	start := Usage{SelfCPU: 2 * time.Second, ChildrenCPU: time.Second, SelfMaxRSS: 100 << 20}
	end := Usage{SelfCPU: 30 * time.Second, ChildrenCPU: 13 * time.Second, SelfMaxRSS: 1 << 30, ChildrenMaxRSS: 2 << 30}
	c := MeasureCost(start, end, 100*time.Second, 0, 0)
	if c.VCPUSeconds != 40 {
		t.Errorf("vCPU-s %v, want 40 (43 - 3)", c.VCPUSeconds)
	}
	if c.GBSeconds != 200 {
		t.Errorf("GB-s %v, want 200 (the larger peak, 2 GiB, × 100 s)", c.GBSeconds)
	}
	wantUSD := 40.0/3600*0.04048 + 200.0/3600*0.004445
	if math.Abs(c.USD-wantUSD) > 1e-12 || c.AthenaScanned != 0 || c.S3Requests != 0 {
		t.Errorf("cost %+v, want USD %v", c, wantUSD)
	}

	// Athena: two queries of 1 GiB in total pay for 1 GiB; ten queries
	// of 1 MiB in total pay at least ten minimums.
	a := MeasureCost(start, start, 0, 1<<30, 2)
	if want := 5.0 / 1024; math.Abs(a.USD-want) > 1e-12 || a.AthenaScanned != 1<<30 || a.VCPUSeconds != 0 {
		t.Errorf("1 GiB in 2 queries: %+v, want USD %v", a, want)
	}
	b := MeasureCost(start, start, 0, 1<<20, 10)
	if want := 100.0 / (1 << 20) * 5; math.Abs(b.USD-want) > 1e-12 {
		t.Errorf("1 MiB in 10 queries: $%v, want $%v (10 × 10 MB)", b.USD, want)
	}
	// A clock or counter going backwards never yields negative cost.
	if n := MeasureCost(end, start, -time.Second, 0, 0); n.VCPUSeconds != 0 || n.GBSeconds != 0 || n.USD != 0 {
		t.Errorf("backwards: %+v", n)
	}
}
