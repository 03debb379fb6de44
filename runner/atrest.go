package runner

// Cost at rest: what a job's months cost to keep, per tier and S3 storage
// class, from the bytes stored and the list prices below.

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/storage"
)

// StoragePricesAsOf and StoragePricesSource date and name the storage
// prices: S3 list prices, US East (N. Virginia), first 50 TB per month
// (https://aws.amazon.com/s3/pricing/, as published through 2025; not
// re-checked on AWS's page since: check it for your region and volume).
const (
	StoragePricesAsOf   = "2025"
	StoragePricesSource = "https://aws.amazon.com/s3/pricing/ (us-east-1, first 50 TB/month)"
)

// StoragePriceUSD is USD per GB-month by S3 storage class. A GB is 2^30
// bytes, as AWS bills it.
var StoragePriceUSD = map[string]float64{
	"STANDARD":            0.023,
	"INTELLIGENT_TIERING": 0.023, // frequent access tier; the others are cheaper (not visible in a listing)
	"STANDARD_IA":         0.0125,
	"ONEZONE_IA":          0.01,
	"GLACIER_IR":          0.004,
	"GLACIER":             0.0036,
	"DEEP_ARCHIVE":        0.00099,
	"REDUCED_REDUNDANCY":  0.024,
}

// archiveOverhead is what S3 bills per object in GLACIER and
// DEEP_ARCHIVE besides its bytes: 32 KiB at the class's price and 8 KiB at
// STANDARD's (its index and metadata).
const archiveOverhead, archiveIndex = 32 << 10, 8 << 10

// AtRest is the bytes of one tier of a month in one storage class.
type AtRest struct {
	Month   string  `json:"month"`
	Tier    string  `json:"tier"` // intake, tier1, tier2, tier3, meta
	Class   string  `json:"storage_class"`
	Objects int64   `json:"objects"`
	Bytes   int64   `json:"bytes"`
	USD     float64 `json:"usd_per_month"`
}

// monthInKey finds the month=YYYY-MM segment of a key.
var monthInKey = regexp.MustCompile(`(?:^|/)month=(\d{4}-\d{2})/`)

// StorageAtRest adds up what the job keeps per month (only month, when
// not ""), tier and storage class: the intake, tier 1, tier 2, the derived
// tables, and the run metadata (manifests, rejects) of the month's runs.
func StorageAtRest(ctx context.Context, env *Env, spec *jobs.Spec, month string) ([]AtRest, error) {
	sums := map[[3]string]*AtRest{}
	add := func(month, tier string, o storage.Object) {
		class := o.StorageClass
		if class == "" {
			class = storage.ClassStandard // a local lake, priced as S3 Standard
		}
		k := [3]string{month, tier, class}
		a := sums[k]
		if a == nil {
			a = &AtRest{Month: month, Tier: tier, Class: class}
			sums[k] = a
		}
		a.Objects++
		a.Bytes += o.Size
	}
	byKey := func(tier string) func(storage.Object) error {
		return func(o storage.Object) error {
			if m := monthInKey.FindStringSubmatch(o.Key); m != nil && (month == "" || m[1] == month) {
				add(m[1], tier, o)
			}
			return nil
		}
	}
	roots := map[string][]string{"tier1": {"tier1/" + spec.Name + "/"}, "tier2": {jobs.TableRoot(2, spec.Output.Table)}}
	for _, d := range spec.Derived {
		roots["tier3"] = append(roots["tier3"], jobs.TableRoot(3, d.Table))
	}
	for tier, prefixes := range roots {
		for _, p := range prefixes {
			if month != "" {
				p += "month=" + month + "/"
			}
			if err := env.Storage.List(ctx, p, byKey(tier)); err != nil {
				return nil, fmt.Errorf("list %s: %w", env.Storage.ObjectURI(p), err)
			}
		}
	}
	// The intake: the month is where {month} stands in source.intake.
	before, after, _ := strings.Cut(spec.Source.Intake, "{month}")
	intake := before
	if month != "" {
		intake = spec.IntakePrefix(month)
	}
	if err := env.Storage.List(ctx, intake, func(o storage.Object) error {
		rest, ok := strings.CutPrefix(o.Key, before)
		if ok && len(rest) >= 7 && strings.HasPrefix(rest[7:], after) {
			if _, err := jobs.ParseMonth(rest[:7]); err == nil {
				add(rest[:7], "intake", o)
			}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list %s: %w", env.Storage.ObjectURI(intake), err)
	}
	runs, err := env.Lineage.ListRuns(ctx, spec.Name, month)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	layout := jobs.Layout{Spec: spec}
	for _, r := range runs {
		if err := env.Storage.List(ctx, layout.RunMetaPrefix(r.ID), func(o storage.Object) error {
			add(r.Month, "meta", o)
			return nil
		}); err != nil {
			return nil, err
		}
	}
	out := make([]AtRest, 0, len(sums))
	for _, a := range sums {
		a.USD = StorageUSD(a.Class, a.Bytes, a.Objects)
		out = append(out, *a)
	}
	tierOrder := map[string]int{"intake": 0, "tier1": 1, "tier2": 2, "tier3": 3, "meta": 4}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Month != b.Month {
			return a.Month < b.Month
		}
		if a.Tier != b.Tier {
			return tierOrder[a.Tier] < tierOrder[b.Tier]
		}
		return a.Class < b.Class
	})
	return out, nil
}

// StorageUSD is what bytes in objects of class cost per month. An unknown
// class is priced as STANDARD.
func StorageUSD(class string, bytes, objects int64) float64 {
	const gb = 1 << 30
	price := StoragePrice(class)
	usd := float64(bytes) / gb * price
	if class == storage.ClassGlacier || class == storage.ClassDeepArchive {
		usd += float64(objects) * (archiveOverhead*price + archiveIndex*StoragePriceUSD[storage.ClassStandard]) / gb
	}
	return usd
}

// CostView is what `tierflow cost` shows (its --output json).
type CostView struct {
	Job         string   `json:"job"`
	PricesAsOf  string   `json:"prices_as_of"`
	PriceSource string   `json:"price_source"`
	Rows        []AtRest `json:"rows"`
	TotalUSD    float64  `json:"total_usd_per_month"`
	// Local: the lake has no storage classes (priced as S3 Standard).
	Local bool `json:"-"`
}

// Cost is the job's storage cost at rest per month ("" = every month),
// tier and storage class.
func Cost(ctx context.Context, job, lake, month string, log zerolog.Logger) (CostView, error) {
	if month != "" {
		if _, err := jobs.ParseMonth(month); err != nil {
			return CostView{}, invalidInput{err}
		}
	}
	spec, env, err := openJobReadOnly(ctx, job, lake, log)
	if err != nil {
		return CostView{}, err
	}
	defer env.Close()
	rows, err := StorageAtRest(ctx, env, spec, month)
	if err != nil {
		return CostView{}, err
	}
	v := CostView{Job: spec.Name, PricesAsOf: StoragePricesAsOf, PriceSource: StoragePricesSource, Rows: rows,
		Local: !strings.HasPrefix(env.Storage.URI(), "s3://")}
	for _, r := range rows {
		v.TotalUSD += r.USD
	}
	return v, nil
}

// StoragePrice is the $/GB-month of a storage class (an unknown class is
// priced as STANDARD).
func StoragePrice(class string) float64 {
	if p, ok := StoragePriceUSD[class]; ok {
		return p
	}
	return StoragePriceUSD[storage.ClassStandard]
}
