//go:build cgo && !noduckdb

package runner

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/file"
)

// putObject writes data to key.
func putObject(t *testing.T, st storage.Storage, key string, data []byte) {
	t.Helper()
	if err := storage.Put(context.Background(), st, key, bytes.NewReader(data), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// specWhen is the shipped job with source.complete_when set to cw.
func specWhen(t *testing.T, cw jobs.CompleteWhen) *jobs.Spec {
	t.Helper()
	spec := shippedSpec(t)
	spec.Source.CompleteWhen = cw
	return spec
}

// manifestOf is a delivery manifest listing parts with the given entries.
func manifestOf(t *testing.T, parts ...ManifestPart) []byte {
	t.Helper()
	b, err := json.Marshal(DeliveryManifest{Parts: parts})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func size(n int64) *int64 { return &n }

// testCheckDelivery runs every complete_when form against st: what makes
// a delivery wait, complete, or fail.
func testCheckDelivery(t *testing.T, st storage.Storage) {
	ctx := context.Background()
	month := testMonth
	part := func(spec *jobs.Spec, n int) string {
		return fmt.Sprintf("%spart-%04d.csv.gz", spec.IntakePrefix(month), n)
	}
	check := func(t *testing.T, spec *jobs.Spec, now time.Time) (deliveryCheck, []storage.Object, error) {
		t.Helper()
		objs, err := listParts(ctx, st, spec, month)
		if err != nil {
			t.Fatal(err)
		}
		d, err := checkDelivery(ctx, st, spec, month, objs, now)
		return d, objs, err
	}
	wantWaiting := func(t *testing.T, d deliveryCheck, err error, want string) {
		t.Helper()
		if err != nil || d.Waiting != want {
			t.Errorf("waiting %q, err %v; want waiting %q", d.Waiting, err, want)
		}
	}
	wantComplete := func(t *testing.T, d deliveryCheck, err error) {
		t.Helper()
		if err != nil || d.Waiting != "" {
			t.Errorf("waiting %q, err %v; want complete", d.Waiting, err)
		}
	}
	wantError := func(t *testing.T, err error, says ...string) {
		t.Helper()
		if err == nil {
			t.Fatalf("no error, want one saying %q", says)
		}
		for _, s := range says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not say %q", err, s)
			}
		}
	}
	// Every case has its own intake folder: the spec's intake names it.
	specFor := func(t *testing.T, cw jobs.CompleteWhen) *jobs.Spec {
		spec := specWhen(t, cw)
		spec.Source.Intake = "intake/" + strings.ReplaceAll(t.Name(), "/", "_") + "/{month}/"
		return spec
	}

	t.Run("marker", func(t *testing.T) {
		spec := specFor(t, jobs.CompleteWhen{Marker: "_SUCCESS"})
		d, _, err := check(t, spec, time.Now())
		wantWaiting(t, d, err, "no _SUCCESS marker yet (0 parts so far)")
		putObject(t, st, part(spec, 1), []byte("one"))
		putObject(t, st, part(spec, 2), []byte("two"))
		d, _, err = check(t, spec, time.Now())
		wantWaiting(t, d, err, "no _SUCCESS marker yet (2 parts so far)")
		putObject(t, st, spec.IntakePrefix(month)+"_SUCCESS", nil)
		d, objs, err := check(t, spec, time.Now())
		wantComplete(t, d, err)
		if len(objs) != 2 {
			t.Errorf("the marker was listed as a part: %v", objs)
		}
	})

	t.Run("parts", func(t *testing.T) {
		spec := specFor(t, jobs.CompleteWhen{Parts: 3})
		putObject(t, st, part(spec, 1), []byte("one"))
		putObject(t, st, part(spec, 2), []byte("two"))
		d, _, err := check(t, spec, time.Now())
		wantWaiting(t, d, err, "2 of 3 parts")
		putObject(t, st, part(spec, 3), []byte("three"))
		d, _, err = check(t, spec, time.Now())
		wantComplete(t, d, err)
		putObject(t, st, part(spec, 4), []byte("four"))
		_, _, err = check(t, spec, time.Now())
		wantError(t, err, "has 4 parts under "+st.ObjectURI(spec.IntakePrefix(month)), "more than the 3 of source.complete_when.parts")
	})

	t.Run("quiet", func(t *testing.T) {
		spec := specFor(t, jobs.CompleteWhen{Quiet: 10 * time.Minute})
		d, _, err := check(t, spec, time.Now())
		wantWaiting(t, d, err, "no parts yet")
		putObject(t, st, part(spec, 1), []byte("one"))
		putObject(t, st, part(spec, 2), []byte("two"))
		// The store's own modification times decide (S3: LastModified).
		var newest storage.Object
		for _, k := range []string{part(spec, 1), part(spec, 2)} {
			o, err := st.Stat(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if o.ModTime.IsZero() {
				t.Fatalf("%s has no modification time", k)
			}
			if newest.Key == "" || o.ModTime.After(newest.ModTime) {
				newest = o // ties (S3 has whole seconds) go to the first
			}
		}
		d, _, err = check(t, spec, newest.ModTime.Add(4*time.Minute))
		wantWaiting(t, d, err, fmt.Sprintf("2 parts, the newest (%s) 4m0s old, less than the quiet period of 10m0s", strings.TrimPrefix(newest.Key, spec.IntakePrefix(month))))
		d, _, err = check(t, spec, newest.ModTime.Add(10*time.Minute))
		wantComplete(t, d, err)
	})

	t.Run("manifest", func(t *testing.T) {
		spec := specFor(t, jobs.CompleteWhen{Manifest: "manifest.json"})
		mkey := spec.IntakePrefix(month) + "manifest.json"
		one, two := []byte("part one"), []byte("part two, longer")
		sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
		putObject(t, st, part(spec, 1), one)
		d, _, err := check(t, spec, time.Now())
		wantWaiting(t, d, err, "no manifest manifest.json yet (1 part so far)")

		full := manifestOf(t,
			ManifestPart{Name: "part-0001.csv.gz", Size: size(int64(len(one))), SHA256: strings.ToUpper(sum(one))},
			ManifestPart{Name: "part-0002.csv.gz", Size: size(int64(len(two)))},
			ManifestPart{Name: "part-0003.csv.gz", MD5: "0123456789abcdef0123456789abcdef"},
		)
		putObject(t, st, mkey, full)
		d, _, err = check(t, spec, time.Now())
		wantWaiting(t, d, err, "1 of 3 parts listed in manifest.json (missing part-0002.csv.gz, part-0003.csv.gz)")

		putObject(t, st, part(spec, 2), append([]byte("x"), two...))
		_, _, err = check(t, spec, time.Now())
		wantError(t, err, "intake object "+st.ObjectURI(part(spec, 2))+" is 17 bytes, but the delivery manifest "+st.ObjectURI(mkey)+" lists 16")

		putObject(t, st, part(spec, 2), two)
		putObject(t, st, part(spec, 3), []byte("three"))
		d, _, err = check(t, spec, time.Now())
		wantComplete(t, d, err)
		if got := d.Listed["part-0001.csv.gz"].SHA256; got != sum(one) {
			t.Errorf("listed sha256 %q, want it in lowercase: %q", got, sum(one))
		}

		putObject(t, st, part(spec, 4), []byte("four"))
		_, _, err = check(t, spec, time.Now())
		wantError(t, err, "intake object "+st.ObjectURI(part(spec, 4))+" is not listed in the delivery manifest "+st.ObjectURI(mkey))
		if err := st.Delete(ctx, part(spec, 4)); err != nil {
			t.Fatal(err)
		}

		for _, c := range []struct{ manifest, says string }{
			{`{"parts": []}`, "lists no parts"},
			{`{"parts": [{"name": "part-0001.csv.gz", "size": 8, "sha1": "ab"}]}`, `unknown field "sha1"`},
			{`{"parts": [{"name": "part-0001.csv.gz"}]}`, "parts[0]: part-0001.csv.gz has none of size, sha256 and md5"},
			{`{"parts": [{"name": "part-0001.csv.gz", "sha256": "abc"}]}`, `parts[0]: part-0001.csv.gz: sha256: "abc" is not 64 hex digits`},
			{`{"parts": [{"name": "part-0001.csv.gz", "md5": "` + sum(one) + `"}]}`, "md5: \"" + sum(one) + "\" is not 32 hex digits"},
			{`{"parts": [{"name": "notes.txt", "size": 1}]}`, `parts[0]: name "notes.txt" is not a base name matching source.pattern "*.csv.gz"`},
			{`{"parts": [{"name": "sub/part.csv.gz", "size": 1}]}`, `name "sub/part.csv.gz" is not a base name`},
			{`{"parts": [{"name": "part-0001.csv.gz", "size": 8}, {"name": "part-0001.csv.gz", "size": 8}]}`, "parts[1]: part-0001.csv.gz is listed twice"},
			{`{"parts": [{"name": "part-0001.csv.gz", "size": -1}]}`, "size -1 is negative"},
			{`[1, 2]`, "not a manifest"},
			{`{"parts": [{"name": "part-0001.csv.gz", "size": 8}]} {}`, "more than one JSON value"},
		} {
			putObject(t, st, mkey, []byte(c.manifest))
			_, _, err := check(t, spec, time.Now())
			wantError(t, err, "delivery manifest "+st.ObjectURI(mkey)+": ", c.says)
		}
	})
}

func TestCheckDeliveryFile(t *testing.T) {
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	testCheckDelivery(t, st)
}

// The same against the local S3 server: its listings and LastModified.
func TestCheckDeliveryS3(t *testing.T) {
	_, bucket := awsServers(t)
	testCheckDelivery(t, directS3(t, os.Getenv("TIERFLOW_TEST_S3_ENDPOINT"), "s3://"+bucket+"/lake"))
}

// lakeKeys lists every key of the lake.
func lakeKeys(t *testing.T, st storage.Storage) []string {
	t.Helper()
	var keys []string
	if err := st.List(context.Background(), "", func(o storage.Object) error { keys = append(keys, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	return keys
}

// A plan on an incomplete delivery exits quietly: it claims nothing,
// records no run and writes nothing, except the plan.json of a Step
// Functions execution, which the state machine reads to end.
func TestPlanWaitsForDelivery(t *testing.T) {
	spec := specWhen(t, jobs.CompleteWhen{Parts: 3})
	env, _ := openTestEnv(t, spec, 600, 2, 0)
	ctx := context.Background()
	before := lakeKeys(t, env.Storage)
	const want = "delivery for 2020-03 not complete: 2 of 3 parts; waiting"

	ex, err := PlanStep(ctx, env, spec, testMonth, "", false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !ex.Skipped || !ex.Waiting || ex.Reason != want || ex.Plan != nil || ex.RunID != "" {
		t.Errorf("plan: %+v", ex)
	}
	res, err := Run(ctx, env, spec, Options{Month: testMonth})
	if err != nil || res.Waiting != want || res.Run.ID != "" {
		t.Errorf("run: %+v, %v", res, err)
	}
	if after := lakeKeys(t, env.Storage); !slices.Equal(before, after) {
		t.Errorf("a waiting plan wrote to the lake:\nbefore %q\nafter  %q", before, after)
	}

	const exec = "2020-03-in-0f"
	if _, err := PlanStep(ctx, env, spec, testMonth, exec, false, time.Hour); err != nil {
		t.Fatal(err)
	}
	after := lakeKeys(t, env.Storage)
	if added := slices.DeleteFunc(after, func(k string) bool { return slices.Contains(before, k) }); !slices.Equal(added, []string{ExecPrefix(spec.Name, exec) + "plan.json"}) {
		t.Errorf("an execution's waiting plan wrote %q, want only its plan.json", added)
	}
	saved, err := LoadExec(ctx, env.Storage, spec.Name, exec)
	if err != nil || !saved.Skipped || !saved.Waiting || saved.Reason != want {
		t.Errorf("plan.json: %+v, %v", saved, err)
	}
	// What the state machine's Choice reads.
	var raw map[string]any
	if err := getJSON(ctx, env.Storage, ExecPrefix(spec.Name, exec)+"plan.json", &raw); err != nil || raw["skipped"] != true {
		t.Errorf("plan.json says skipped %v (%v)", raw["skipped"], err)
	}

	m, err := env.Lineage.Month(ctx, spec.Name, testMonth)
	if err != nil || m.Claim.Owner != "" || m.Claim.Token != 0 || m.Published.RunID != "" {
		t.Errorf("the month was touched: %+v, %v", m, err)
	}
	if runs, err := env.Lineage.ListRuns(ctx, spec.Name, ""); err != nil || len(runs) != 0 {
		t.Errorf("runs recorded: %+v, %v", runs, err)
	}
}

// A published month stays a no-op when its delivery is complete, and a
// re-delivery in progress (one part replaced, another still missing)
// waits without touching what is published.
func TestPublishedMonthStaysNoOp(t *testing.T) {
	spec := specWhen(t, jobs.CompleteWhen{Parts: 2})
	env, _ := openTestEnv(t, spec, 600, 2, 0)
	ctx := context.Background()
	res, err := Run(ctx, env, spec, Options{Month: testMonth})
	if err != nil || res.Run.Status != lineage.StatusComplete {
		t.Fatalf("first run: %+v, %v", res, err)
	}
	again, err := Run(ctx, env, spec, Options{Month: testMonth})
	if err != nil || !again.Skipped || again.Run.ID != res.Run.ID {
		t.Errorf("second run: skipped %v run %s, %v", again.Skipped, again.Run.ID, err)
	}
	if err := env.Storage.Delete(ctx, spec.IntakePrefix(testMonth)+"part-0002.csv.gz"); err != nil {
		t.Fatal(err)
	}
	wait, err := Run(ctx, env, spec, Options{Month: testMonth})
	if err != nil || wait.Waiting != "delivery for 2020-03 not complete: 1 of 2 parts; waiting" {
		t.Errorf("re-delivery: %+v, %v", wait, err)
	}
	if p, err := env.Lineage.Published(ctx, spec.Name, testMonth); err != nil || p != res.Run.ID {
		t.Errorf("published %q, %v; want %s", p, err, res.Run.ID)
	}
}

// The digests a manifest lists are checked as each part is copied into
// tier 1: a part that is not what the vendor listed fails the run before
// its copy is committed, and nothing is published.
func TestManifestDigestsChecked(t *testing.T) {
	spec := specWhen(t, jobs.CompleteWhen{Manifest: "manifest.json"})
	env, _ := openTestEnv(t, spec, 800, 2, 0)
	ctx := context.Background()
	objs, err := listParts(ctx, env.Storage, spec, testMonth)
	if err != nil || len(objs) != 2 {
		t.Fatalf("parts %v, %v", objs, err)
	}
	type sums struct{ sha, md5 string }
	var real []sums
	for _, o := range objs {
		b := readAll(t, env.Storage, o.Key)
		s, m := sha256.Sum256(b), md5.Sum(b)
		real = append(real, sums{hex.EncodeToString(s[:]), hex.EncodeToString(m[:])})
	}
	wrong := strings.Repeat("ab", 32)
	mkey := spec.IntakePrefix(testMonth) + "manifest.json"
	tier1 := func() []string {
		return slices.DeleteFunc(lakeKeys(t, env.Storage), func(k string) bool { return !strings.HasPrefix(k, "tier1/") })
	}
	for _, c := range []struct {
		second ManifestPart
		says   string
	}{
		{ManifestPart{SHA256: wrong}, "sha256 is " + real[1].sha + ", but the delivery manifest lists " + wrong},
		{ManifestPart{MD5: wrong[:32]}, "md5 is " + real[1].md5 + ", but the delivery manifest lists " + wrong[:32]},
	} {
		c.second.Name = "part-0002.csv.gz"
		putObject(t, env.Storage, mkey, manifestOf(t, ManifestPart{Name: "part-0001.csv.gz", Size: size(objs[0].Size), SHA256: real[0].sha}, c.second))
		res, err := Run(ctx, env, spec, Options{Month: testMonth})
		if err == nil || !strings.Contains(err.Error(), objs[1].Key) || !strings.Contains(err.Error(), c.says) {
			t.Fatalf("run with a wrong digest: %v; want it to name %s and say %q", err, objs[1].Key, c.says)
		}
		if res.Run.Status != lineage.StatusFailed {
			t.Errorf("run status %s", res.Run.Status)
		}
		for _, k := range tier1() {
			if strings.HasSuffix(k, "part-0002.csv.gz") {
				t.Errorf("the part whose digest differs reached tier 1: %s", k)
			}
		}
	}
	if p, err := env.Lineage.Published(ctx, spec.Name, testMonth); !errors.Is(err, lineage.ErrNotFound) {
		t.Errorf("published %q after failed runs (%v)", p, err)
	}
	putObject(t, env.Storage, mkey, manifestOf(t,
		ManifestPart{Name: "part-0001.csv.gz", Size: size(objs[0].Size), SHA256: real[0].sha},
		ManifestPart{Name: "part-0002.csv.gz", SHA256: real[1].sha, MD5: real[1].md5}))
	res, err := Run(ctx, env, spec, Options{Month: testMonth})
	if err != nil || res.Run.Status != lineage.StatusComplete {
		t.Fatalf("run with the right digests: %v", err)
	}
	if n := len(slices.DeleteFunc(tier1(), func(k string) bool { return !strings.HasSuffix(k, ".csv.gz") })); n != 2 {
		t.Errorf("%d parts in tier 1, want 2", n)
	}
}

// On AWS two objects landing together both start a check that finds the
// delivery complete: the second plan, finding the month held by a run of
// identical inputs, ends quietly. Forced, or on other inputs, it is still
// refused: that is a conflict a person must see.
func TestPlanDuplicateCheckWhileRunning(t *testing.T) {
	spec := specWhen(t, jobs.CompleteWhen{Parts: 2})
	env, _ := openTestEnv(t, spec, 600, 2, 0)
	ctx := context.Background()
	first, err := PlanStep(ctx, env, spec, testMonth, "2020-03-in-aa", false, time.Hour)
	if err != nil || first.Skipped {
		t.Fatalf("first check: %+v, %v", first, err)
	}
	second, err := PlanStep(ctx, env, spec, testMonth, "2020-03-in-bb", false, time.Hour)
	want := "month 2020-03 is being run from identical inputs by run " + first.RunID + "; nothing to do"
	if err != nil || !second.Skipped || second.Waiting || second.Reason != want || second.RunID != "" {
		t.Fatalf("second check: %+v, %v; want skipped: %s", second, err, want)
	}
	if saved, err := LoadExec(ctx, env.Storage, spec.Name, "2020-03-in-bb"); err != nil || !saved.Skipped || saved.Reason != want {
		t.Errorf("second check's plan.json: %+v, %v", saved, err)
	}
	if runs := runsOf(t, env, spec, testMonth); len(runs) != 1 || runs[0].ID != first.RunID {
		t.Errorf("runs %+v, want only %s", runs, first.RunID)
	}
	var held *HeldError
	if _, err := PlanStep(ctx, env, spec, testMonth, "2020-03-r2", true, time.Hour); !errors.As(err, &held) {
		t.Errorf("a forced plan while the month is held: %v, want a HeldError", err)
	}
	putObject(t, env.Storage, spec.IntakePrefix(testMonth)+"part-0002.csv.gz", gz(t, "re-delivered\n"))
	if _, err := PlanStep(ctx, env, spec, testMonth, "2020-03-in-cc", false, time.Hour); !errors.As(err, &held) {
		t.Errorf("a check of other inputs while the month is held: %v, want a HeldError", err)
	}
}
