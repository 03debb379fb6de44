package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/lake/mototest"
	"github.com/tierflow/tierflow/lake/storage/s3"
)

// `tierflow cost` counts every byte the job keeps for a month, in the tier
// it belongs to: the sums equal the files on disk under each tier.
func TestCostAtRestLocal(t *testing.T) {
	open, spec := localCrashLake(t)
	env, _ := open(t, 0)
	id := publishDeliveries(t, env, spec, 1)[0]
	root := strings.TrimPrefix(env.Storage.URI(), "file://")
	du := func(rel string) (n int64) {
		_ = filepath.WalkDir(filepath.Join(root, rel), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
				if fi, err := d.Info(); err == nil {
					n += fi.Size()
				}
			}
			return nil
		})
		return n
	}
	want := map[string]int64{
		"intake": du("intake/crash/" + crashMonth), "tier1": du("tier1/crash/month=" + crashMonth),
		"tier2": du("tier2/crash/month=" + crashMonth), "tier3": du("tier3/crash_ca/month=" + crashMonth),
		"meta": du("_tierflow/runs/crash/" + id),
	}
	v, err := Cost(context.Background(), filepath.Join("testdata", "crash", "job.yaml"), env.Storage.URI(), crashMonth, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	if err := checkSchema(t, "cost_at_rest", out); err != nil {
		t.Error(err)
	}
	if !v.Local || v.PriceSource != StoragePricesSource {
		t.Errorf("view %+v", v)
	}
	got := map[string]int64{}
	var total float64
	for _, r := range v.Rows {
		if r.Month != crashMonth || r.Class != "STANDARD" {
			t.Errorf("row %+v", r)
		}
		got[r.Tier] += r.Bytes
		total += r.USD
		if want := float64(r.Bytes) / (1 << 30) * 0.023; math.Abs(r.USD-want) > 1e-15 {
			t.Errorf("%s: $%g, want $%g", r.Tier, r.USD, want)
		}
	}
	for tier, n := range want {
		if n == 0 || got[tier] != n {
			t.Errorf("%s: %d bytes counted, %d on disk", tier, got[tier], n)
		}
	}
	if math.Abs(total-v.TotalUSD) > 1e-15 {
		t.Errorf("total %g, rows add up to %g", v.TotalUSD, total)
	}
}

// On S3 every object is priced by the class S3 lists it in: a tier-1
// month in Deep Archive costs its bytes at $0.00099 plus 40 KiB per object
// of index (moto's S3 keeps storage classes).
func TestCostAtRestStorageClasses(t *testing.T) {
	cfg := mototest.Config(t)
	ctx := context.Background()
	admin := awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = true })
	bucket := mototest.Name("tierflow-cost")
	if _, err := admin.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 1<<20)
	for key, class := range map[string]types.StorageClass{
		"tier1/crash/month=2020-03/delivery=a/p1.csv.gz":             types.StorageClassDeepArchive,
		"tier1/crash/month=2020-03/delivery=a/p2.csv.gz":             types.StorageClassDeepArchive,
		"tier1/crash/month=2020-04/delivery=b/p1.csv.gz":             types.StorageClassGlacierIr,
		"tier2/crash/month=2020-03/run=r/000000_0_p1.snappy.parquet": "",
		"intake/crash/2020-03/p1.csv.gz":                             "",
	} {
		if _, err := admin.PutObject(ctx, &awss3.PutObjectInput{Bucket: &bucket, Key: aws.String("lake/" + key), Body: bytes.NewReader(body), StorageClass: class}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := s3.New(ctx, cfg, "s3://"+bucket+"/lake", s3.Options{UsePathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	open, spec := localCrashLake(t)
	env, _ := open(t, 0)
	env.Storage = st // the lineage stays local: no runs, so no run metadata
	rows, err := StorageAtRest(ctx, env, spec, "")
	if err != nil {
		t.Fatal(err)
	}
	const mib = 1.0 / 1024
	want := map[string]float64{
		"2020-03 intake STANDARD":    mib * 0.023,
		"2020-03 tier1 DEEP_ARCHIVE": 2 * (mib*0.00099 + (32.0/(1<<20))*0.00099 + (8.0/(1<<20))*0.023),
		"2020-03 tier2 STANDARD":     mib * 0.023,
		"2020-04 tier1 GLACIER_IR":   mib * 0.004,
	}
	for _, r := range rows {
		k := r.Month + " " + r.Tier + " " + r.Class
		w, ok := want[k]
		if !ok || math.Abs(r.USD-w) > 1e-12 {
			t.Errorf("%s: $%g (%d objects, %d bytes), want $%g", k, r.USD, r.Objects, r.Bytes, w)
		}
		delete(want, k)
	}
	for k := range want {
		t.Errorf("no row %s", k)
	}
}
