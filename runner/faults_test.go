//go:build cgo && !noduckdb

package runner

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/synth"
	"github.com/tierflow/tierflow/lake/awsconfig"
	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/faultproxy"
	"github.com/tierflow/tierflow/lake/storage/file"
	"github.com/tierflow/tierflow/lake/storage/s3"
	"github.com/tierflow/tierflow/runner/pii"
)

// faultRows is the size of the synthetic part of every month here; the
// fault and KMS tests add bigPart.
const faultRows = 3000

// bigPart returns a valid ≈19 MB gzip part for spec: synthetic rows whose
// AddressLine2 is 9,000 random characters, so that it is larger than one
// S3 part (16 MiB): its tier-1 copy is a multipart upload and it is read
// with parallel ranged GETs.
func bigPart(t *testing.T, spec *jobs.Spec) []byte {
	t.Helper()
	var plain bytes.Buffer
	if _, err := synth.WritePart(context.Background(), &plain, spec, synth.Options{Rows: 2500, Parts: 1, Seed: 99, Month: testMonth}, 0); err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(&plain)
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := slices.Index(recs[0], "AddressLine2")
	if col < 0 {
		t.Fatal("no AddressLine2 column in the header")
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	rng := rand.New(rand.NewPCG(5, 6))
	filler := make([]byte, 9000)
	for _, rec := range recs[1:] {
		for i := range filler {
			filler[i] = alphabet[rng.IntN(len(alphabet))]
		}
		rec[col] = string(filler)
	}
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestSpeed)
	w := csv.NewWriter(zw)
	if err := w.WriteAll(recs); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if out.Len() <= s3.DefaultPartSize {
		t.Fatalf("big part is %d bytes, not above one S3 part", out.Len())
	}
	return out.Bytes()
}

// putMonth writes the test month: a synthetic part and, if big is not nil,
// big as a second one.
func putMonth(t *testing.T, st storage.Storage, spec *jobs.Spec, big []byte) {
	t.Helper()
	ctx := context.Background()
	if _, err := synth.Generate(ctx, st, spec, synth.Options{Rows: faultRows, Parts: 1, Seed: 7, Month: testMonth}); err != nil {
		t.Fatal(err)
	}
	if big != nil {
		key := spec.IntakePrefix(testMonth) + "part-big.csv.gz"
		if err := storage.Put(ctx, st, key, bytes.NewReader(big), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// proxyS3 starts a fault proxy in front of the local S3 server and points
// the next awsTestEnv at it.
func proxyS3(t *testing.T, cfg faultproxy.Config) *faultproxy.Proxy {
	t.Helper()
	cfg.Target = os.Getenv("TIERFLOW_TEST_S3_ENDPOINT")
	p, err := faultproxy.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	t.Setenv("TIERFLOW_TEST_S3_ENDPOINT", p.URL())
	return p
}

// directS3 opens uri on the S3 server at endpoint, bypassing any proxy.
func directS3(t *testing.T, endpoint, uri string) storage.Storage {
	t.Helper()
	cfg, err := awsconfig.Load(context.Background(), awsconfig.Options{Endpoint: endpoint, Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(os.Getenv("TIERFLOW_TEST_S3_ACCESS_KEY"), os.Getenv("TIERFLOW_TEST_S3_SECRET_KEY"), "")})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s3.New(context.Background(), cfg, uri, s3.Options{UsePathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func needS3(t *testing.T) {
	if os.Getenv("TIERFLOW_TEST_S3_ENDPOINT") == "" || os.Getenv("TIERFLOW_TEST_DYNAMODB_ENDPOINT") == "" {
		t.Skip("needs the local S3 and DynamoDB servers: .ci/run starts them (TIERFLOW_TEST_S3_ENDPOINT, TIERFLOW_TEST_DYNAMODB_ENDPOINT)")
	}
}

// TestFaultS3RunSurvives runs the whole monthly job on an s3:// lake
// through the fault proxy (503 SlowDown, 500 InternalError, connection
// resets before and in the middle of responses, delays, slow bodies): it
// must succeed and its tier-2 files must be byte-identical to a clean
// run's on the same inputs.
func TestFaultS3RunSurvives(t *testing.T) {
	needS3(t)
	ctx := context.Background()
	big := bigPart(t, shippedSpec(t))

	// The clean run: no proxy, a local lake (the converter's output does
	// not depend on the storage it is written to).
	spec := shippedSpec(t)
	env, err := OpenEnv(ctx, spec, "file://"+t.TempDir(), zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	putMonth(t, env.Storage, spec, big)
	cres, err := Run(ctx, env, spec, Options{Month: testMonth})
	if err != nil {
		t.Fatalf("clean run: %v", err)
	}
	want := fileSums(t, env, spec.Output.Table)

	// The same month through the proxy.
	realS3 := os.Getenv("TIERFLOW_TEST_S3_ENDPOINT")
	p := proxyS3(t, faultproxy.Config{
		Seed: 20200301, MaxPerRequest: 2, Delay: 100 * time.Millisecond, TrickleFor: 300 * time.Millisecond,
		Rules: []faultproxy.Rule{
			// The multipart upload is four requests: fault each step once.
			{Kind: faultproxy.SlowDown, Every: 1, Max: 1, Ops: []string{"CreateMultipartUpload"}},
			{Kind: faultproxy.ResetBeforeResponse, Every: 1, Max: 1, Ops: []string{"UploadPart"}},
			{Kind: faultproxy.InternalError, Every: 1, Max: 1, Ops: []string{"CompleteMultipartUpload"}},
			{Kind: faultproxy.SlowDown, Rate: 0.015},
			{Kind: faultproxy.InternalError, Rate: 0.008},
			{Kind: faultproxy.ResetBeforeResponse, Rate: 0.008},
			{Kind: faultproxy.ResetMidResponse, Rate: 0.015, Methods: []string{"GET"}},
			{Kind: faultproxy.Delay, Rate: 0.01},
			{Kind: faultproxy.Trickle, Rate: 0.02, Methods: []string{"GET"}},
			// Object bodies, the large ones above all, break off mid-way.
			{Kind: faultproxy.ResetMidResponse, Rate: 0.3, Ops: []string{"GetObject"}, Max: 5},
		},
	})
	fenv, _, fbucket := awsTestEnv(t)
	fspec := awsSpec(t, fbucket)
	putMonth(t, directS3(t, realS3, "s3://"+fbucket+"/lake"), fspec, big) // the partner's drop: no faults
	before := p.Stats()
	t0 := time.Now()
	res, err := Run(ctx, fenv, fspec, Options{Month: testMonth})
	wall := time.Since(t0)
	after := p.Stats()
	if err != nil {
		t.Fatalf("run through the fault proxy failed: %v\nfaults so far: %s", err, summary(after.Injected))
	}
	if !res.Run.Published || res.Run.RowsOut != cres.Run.RowsOut || res.Run.RowsRejected != cres.Run.RowsRejected {
		t.Errorf("faulted run: published %v, rows out %d rejected %d; clean run: %d, %d",
			res.Run.Published, res.Run.RowsOut, res.Run.RowsRejected, cres.Run.RowsOut, cres.Run.RowsRejected)
	}
	got := fileSums(t, fenv, fspec.Output.Table)
	if len(want) == 0 || !equalMaps(got, want) {
		t.Errorf("tier-2 files differ from the clean run's: %d files vs %d", len(got), len(want))
		for name, sum := range want {
			if got[name] != sum {
				t.Errorf("  %s: %.12s vs clean %.12s", name, got[name], sum)
			}
		}
	}
	if ups, err := fenv.Storage.(*s3.Store).ListIncompleteUploads(ctx, ""); err != nil || len(ups) != 0 {
		t.Errorf("incomplete multipart uploads left behind: %v %v", ups, err)
	}

	// What the run survived.
	injected := map[faultproxy.Kind]int64{}
	var total int64
	for _, k := range faultproxy.Kinds {
		injected[k] = after.Injected[k] - before.Injected[k]
		total += injected[k]
	}
	ops := map[string]int64{}
	for op, n := range after.ByOp {
		if d := n - before.ByOp[op]; d > 0 {
			ops[op] = d
		}
	}
	t.Logf("run through the proxy: %v wall, %d S3 requests, %d faults survived", wall.Round(time.Millisecond), after.Requests-before.Requests, total)
	for _, k := range faultproxy.Kinds {
		t.Logf("  %-22s %d", k, injected[k])
		if injected[k] == 0 {
			t.Errorf("no %s fault was injected during the run: the test proves nothing about it", k)
		}
	}
	t.Logf("  by operation: %v", ops)
	for _, op := range []string{"CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "GetObject"} {
		if ops[op] == 0 {
			t.Errorf("no fault hit %s", op)
		}
	}
}

// TestKMSEveryWrite: with aws.kms_key_id set, every S3 write request of a
// whole run asks for SSE-KMS with the job's key: PutObject,
// CreateMultipartUpload and CopyObject carry the headers; UploadPart and
// CompleteMultipartUpload (which S3 refuses SSE headers on) belong to an
// upload created with them. The proxy sees every request.
func TestKMSEveryWrite(t *testing.T) {
	needS3(t)
	ctx := context.Background()
	const kms = "arn:aws:kms:us-east-1:111122223333:key/tierflow-test-0001"
	p := proxyS3(t, faultproxy.Config{Record: true})
	setup, srv, bucket := awsTestEnv(t)
	spec := awsSpec(t, bucket)
	spec.AWS.KMSKeyID = kms
	env, err := OpenEnv(ctx, spec, "s3://"+bucket+"/lake", zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	srv.Athena.SetExecutor(mirrorExecutor(t, srv, env.Catalog, env.Storage))
	putMonth(t, setup.Storage, spec, bigPart(t, spec)) // intake: the partner's writes, not ours
	n0 := len(p.Requests())
	if _, err := Run(ctx, env, spec, Options{Month: testMonth}); err != nil {
		t.Fatal(err)
	}
	reqs := p.Requests()[n0:]

	ops := map[string]int{}
	encrypted := map[string]bool{} // keys with a CreateMultipartUpload asking for SSE-KMS
	for _, r := range reqs {
		ops[r.Op]++
		sse, key := r.Header.Get("X-Amz-Server-Side-Encryption"), r.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id")
		switch r.Op {
		case "PutObject", "CreateMultipartUpload", "CopyObject":
			if sse != "aws:kms" || key != kms {
				t.Errorf("%s %s: x-amz-server-side-encryption %q, key id %q; want aws:kms and %s", r.Op, r.Path, sse, key, kms)
			}
			if r.Op == "CreateMultipartUpload" && sse == "aws:kms" && key == kms {
				encrypted[r.Path] = true
			}
		case "UploadPart", "UploadPartCopy", "CompleteMultipartUpload":
			if !encrypted[r.Path] {
				t.Errorf("%s %s: its upload was not created with SSE-KMS", r.Op, r.Path)
			}
		case "":
			if r.Method != "GET" && r.Method != "HEAD" {
				t.Errorf("unclassified write %s %s?%s", r.Method, r.Path, r.RawQuery)
			}
		}
	}
	t.Logf("S3 requests of the run by operation: %v", ops)
	for _, op := range []string{"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"} {
		if ops[op] == 0 {
			t.Errorf("the run made no %s request: this test does not cover it", op)
		}
	}
}

// TestDiskFullFailsCleanly runs on a local lake on a small tmpfs that
// fills up during convert: the run fails with an error naming the object
// and the cause, publishes nothing, leaves no partial object and is
// recorded as failed.
func TestDiskFullFailsCleanly(t *testing.T) {
	dir := t.TempDir()
	// 2.4 MB of intake and tier 1 fit; the ≈10 MB of Parquet do not.
	if err := syscall.Mount("tierflow-test", dir, "tmpfs", 0, "size=4m,mode=0755"); err != nil {
		t.Skipf("cannot mount a small tmpfs here (%v): run as root in a sandbox that allows mount(2)", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	spec := shippedSpec(t)
	ctx := context.Background()
	env, err := OpenEnv(ctx, spec, "file://"+dir, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	if _, err := synth.Generate(ctx, env.Storage, spec, synth.Options{Rows: 6000, Parts: 2, Seed: 7, Month: testMonth}); err != nil {
		t.Fatal(err)
	}
	res, err := Run(ctx, env, spec, Options{Month: testMonth})
	if err == nil {
		t.Fatal("run on a full disk succeeded")
	}
	t.Logf("error: %v", err)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("error does not carry ENOSPC: %v", err)
	}
	// Text: the message names the object (no error type carries its key).
	if !regexp.MustCompile(`(tier[123]|_tierflow)/[^ :]+`).MatchString(err.Error()) {
		t.Errorf("error does not name the object it failed to write: %v", err)
	}
	if res == nil || res.Run.Status != lineage.StatusFailed || res.Run.Published {
		t.Fatalf("result %+v", res)
	}
	if r, err := env.Lineage.GetRun(ctx, spec.Name, res.Run.ID); err != nil || r.Status != lineage.StatusFailed || !strings.Contains(r.Error, "no space left") {
		t.Errorf("lineage record: %+v, %v; want failed with the cause", r, err)
	}
	if _, err := env.Catalog.GetPartition(ctx, spec.Database, spec.Output.Table, []string{testMonth}); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("catalog partition after a failed run: %v, want not found", err)
	}
	if _, err := env.Lineage.Published(ctx, spec.Name, testMonth); !errors.Is(err, lineage.ErrNotFound) {
		t.Errorf("published pointer after a failed run: %v", err)
	}
	// No partial object: nothing under the data prefixes, every tier-1
	// object whole, no temporary file left.
	for _, prefix := range []string{"tier2/", "tier3/"} {
		if n := countUnder(t, env.Storage, prefix); n != 0 {
			t.Errorf("%d objects left under %s", n, prefix)
		}
	}
	intake := map[string]string{}
	env.Storage.List(ctx, spec.IntakePrefix(testMonth), func(o storage.Object) error { intake[filepath.Base(o.Key)] = o.ETag; return nil })
	env.Storage.List(ctx, "tier1/", func(o storage.Object) error {
		if intake[filepath.Base(o.Key)] != o.ETag {
			t.Errorf("tier-1 object %s is not a whole copy of its intake part", o.Key)
		}
		return nil
	})
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasPrefix(fi.Name(), ".tierflow-tmp") {
			t.Errorf("temporary file left: %s (%d bytes)", p, fi.Size())
		}
		return nil
	})
}

// captureOutput redirects the process's stdout and stderr (file
// descriptors 1 and 2, so the AWS SDK's and C libraries' writes are caught
// too) until the returned func is called; that returns what was written.
func captureOutput(t *testing.T) func() string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := [2]int{}
	for i, fd := range []int{1, 2} {
		if saved[i], err = syscall.Dup(fd); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Dup3(int(w.Fd()), fd, 0); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	return func() string {
		for i, fd := range []int{1, 2} {
			syscall.Dup3(saved[i], fd, 0)
			syscall.Close(saved[i])
		}
		w.Close()
		out := <-done
		r.Close()
		return out
	}
}

// checkNoSecrets fails the test for every secret found in text.
func checkNoSecrets(t *testing.T, where, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s contains the secret %.6s…", where, s)
		}
	}
}

// TestSecretsNeverLogged runs the local job and the AWS job with
// credentials in the environment and the log at debug level, capturing
// every log line and everything written to stdout and stderr: no secret
// (secret key, session token, PII HMAC key) may appear.
func TestSecretsNeverLogged(t *testing.T) {
	const (
		secretKey = "TfSecretKEY0wJalrXUtnFEMIK7MDENGbPxRfiCYzz"
		token     = "TfSessionTOKEN0IQoJb3JpZ2luX2VjEJr3zz"
	)
	t.Run("local", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", "AKIATIERFLOWTEST0001")
		t.Setenv("AWS_SECRET_ACCESS_KEY", secretKey)
		t.Setenv("AWS_SESSION_TOKEN", token)
		dir := t.TempDir()
		lake := "file://" + dir
		var logs, stdout bytes.Buffer
		log := zerolog.New(&logs).Level(zerolog.DebugLevel).With().Timestamp().Logger()
		ctx := context.Background()
		restore := captureOutput(t)
		err := Gen(ctx, GenOptions{Job: DemoJob, Lake: lake, Month: testMonth, Rows: 2000, Parts: 2, Seed: 3, Log: log, Stdout: &stdout})
		if err == nil {
			err = RunMonths(ctx, RunMonthsOptions{Job: DemoJob, Lake: lake, Month: testMonth, Log: log,
				Done: func(_ *jobs.Spec, _ string, res *Result, _ error) {
					if res != nil {
						printResult(&stdout, res)
					}
				}})
		}
		captured := restore()
		if err != nil {
			t.Fatal(err)
		}
		if logs.Len() == 0 || stdout.Len() == 0 || !strings.Contains(logs.String(), `"level":"debug"`) && !strings.Contains(logs.String(), `"level":"info"`) {
			t.Fatalf("nothing was logged or printed (%d log bytes, %d stdout bytes): the check would be empty", logs.Len(), stdout.Len())
		}
		secrets := []string{secretKey, token}
		key, err := os.ReadFile(pii.LakeKeyPath(dir, DemoJob))
		if err != nil {
			t.Fatalf("the local run made no PII key: %v", err)
		}
		secrets = append(secrets, strings.TrimSpace(string(key)))
		checkNoSecrets(t, "the log", logs.String(), secrets)
		checkNoSecrets(t, "stdout", stdout.String(), secrets)
		checkNoSecrets(t, "the process's stdout/stderr", captured, secrets)
		// Nor anything the run stored (lineage, catalog, manifests, rejects).
		filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() || p == pii.LakeKeyPath(dir, DemoJob) {
				return nil
			}
			b, _ := os.ReadFile(p)
			checkNoSecrets(t, p, string(b), secrets)
			return nil
		})
		t.Logf("checked %d log bytes, %d stdout bytes, %d bytes of process output", logs.Len(), stdout.Len(), len(captured))
	})
	// The S3 server (versitygw) refuses a session token with its permanent
	// keys, so the AWS job runs twice: without a token (a whole run,
	// checking the secret key), then with one (the run fails at the first
	// S3 call; the failure path must not leak either).
	t.Run("aws", func(t *testing.T) {
		needS3(t)
		setup, srv, bucket := awsTestEnv(t) // sets AWS_SECRET_ACCESS_KEY to the S3 server's
		spec := awsSpec(t, bucket)
		putMonth(t, setup.Storage, spec, nil)
		key, err := os.ReadFile(spec.PII.KeyPath)
		if err != nil {
			t.Fatal(err)
		}
		secrets := []string{os.Getenv("AWS_SECRET_ACCESS_KEY"), token, strings.TrimSpace(string(key))}
		if len(secrets[0]) < 16 {
			t.Fatalf("the S3 server's secret key (%d chars) is too short to search for", len(secrets[0]))
		}
		for _, withToken := range []bool{false, true} {
			t.Setenv("AWS_SESSION_TOKEN", map[bool]string{true: token}[withToken])
			var logs, stdout bytes.Buffer
			log := zerolog.New(&logs).Level(zerolog.DebugLevel).With().Timestamp().Logger()
			restore := captureOutput(t)
			err := awsRunAndPrint(t, srv, spec, "s3://"+bucket+"/lake", log, &stdout)
			captured := restore()
			switch {
			case !withToken && err != nil:
				t.Fatalf("run: %v", err)
			case withToken && err == nil:
				t.Log("the S3 server accepted the session token; the run succeeded")
			case withToken:
				t.Logf("with a session token the run failed as expected: %.120s…", err)
			}
			if err != nil {
				fmt.Fprintln(&stdout, "tierflow:", err) // as main prints it (to stderr)
			}
			if (!withToken && logs.Len() == 0) || stdout.Len() == 0 {
				t.Fatalf("nothing was logged or printed (%d log bytes, %d stdout bytes): the check would be empty", logs.Len(), stdout.Len())
			}
			what := map[bool]string{false: "without a session token", true: "with a session token"}[withToken]
			checkNoSecrets(t, "the log "+what, logs.String(), secrets)
			checkNoSecrets(t, "stdout "+what, stdout.String(), secrets)
			checkNoSecrets(t, "the process's stdout/stderr "+what, captured, secrets)
			t.Logf("%s: checked %d log bytes, %d stdout bytes, %d bytes of process output", what, logs.Len(), stdout.Len(), len(captured))
		}
	})
}

// awsRunAndPrint opens the AWS backends for lake with log, runs the month
// (forced, so a second call reruns it) and prints its result to stdout, as
// `tierflow run` does.
func awsRunAndPrint(t *testing.T, srv *awsFakes, spec *jobs.Spec, lake string, log zerolog.Logger, stdout io.Writer) error {
	ctx := context.Background()
	env, err := OpenEnv(ctx, spec, lake, log)
	if err != nil {
		return err
	}
	defer env.Close()
	srv.Athena.SetExecutor(mirrorExecutor(t, srv, env.Catalog, env.Storage))
	res, err := Run(ctx, env, spec, Options{Month: testMonth, Force: true})
	if res != nil {
		printResult(stdout, res)
	}
	return err
}

// printResult prints every field of a run's result that the CLI's summary
// (main's printSummary) can show, and more: the secrets checks read it.
func printResult(w io.Writer, res *Result) {
	fmt.Fprintf(w, "%+v\n%s\n", res.Run, res.RunMeta)
}

// TestEscapeJobPaths: a job spec whose intake or file references climb
// out with ".." or are absolute is refused by jobs.Load, naming the field.
func TestEscapeJobPaths(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "jobs", "consumer-header.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, old, new, want string }{
		{"intake dotdot", "intake: intake/consumer/{month}/", "intake: intake/../../etc/{month}/", `source.intake: "intake/../../etc/{month}/" climbs out with '..'`},
		{"intake absolute", "intake: intake/consumer/{month}/", "intake: /etc/{month}/", `source.intake: "/etc/{month}/" is absolute`},
		{"header dotdot", "header: consumer-header.header.csv", "header: ../../etc/passwd", `source.header: "../../etc/passwd" climbs out with '..'`},
		{"header absolute", "header: consumer-header.header.csv", "header: /etc/passwd", `source.header: "/etc/passwd" is absolute`},
		{"schema dotdot", "schema: consumer-header.schema.yaml", "schema: ../secret.yaml", `schema: "../secret.yaml" climbs out with '..'`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range []string{"consumer-header.header.csv", "consumer-header.schema.yaml"} {
				b, err := os.ReadFile(filepath.Join("..", "jobs", f))
				if err != nil {
					t.Fatal(err)
				}
				os.WriteFile(filepath.Join(dir, f), b, 0o644)
			}
			if !bytes.Contains(src, []byte(c.old)) {
				t.Fatalf("the shipped job no longer has %q", c.old)
			}
			p := filepath.Join(dir, "job.yaml")
			os.WriteFile(p, bytes.Replace(src, []byte(c.old), []byte(c.new), 1), 0o644)
			_, err := jobs.Load(p)
			var probs jobs.Errors
			if !errors.As(err, &probs) {
				t.Fatalf("job with %s: %v, want jobs.Errors", c.new, err)
			}
			if !slices.ContainsFunc(probs, func(p jobs.Problem) bool { return strings.HasPrefix(p.Msg, c.want) }) {
				t.Errorf("problems %q\nwant one to say %q", probs, c.want)
			}
		})
	}
}

// escapes reports whether err is the lake's os.Root refusing a path below
// prefix that a link leads out of.
func escapes(err error, prefix string) bool {
	var pe *fs.PathError
	// Text: os.Root has no exported error for an escaping path.
	return errors.As(err, &pe) && strings.HasPrefix(pe.Path, prefix) && strings.Contains(pe.Err.Error(), "escapes")
}

// TestEscapeSymlinks: symbolic links inside a local lake that point
// outside it are never read or written through by a run.
func TestEscapeSymlinks(t *testing.T) {
	spec := shippedSpec(t)
	ctx := context.Background()
	const marker = "TIERFLOW-OUTSIDE-THE-LAKE"
	outsidePart := func(t *testing.T) (string, string) {
		out := t.TempDir()
		p := filepath.Join(out, "part-0009.csv.gz")
		data := gz(t, strings.Join(spec.Source.Header, ",")+"\n"+marker+"\n")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return out, p
	}
	// noMarker checks nothing of the outside file reached the lake.
	noMarker := func(t *testing.T, dir string) {
		filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() || fi.Mode()&os.ModeSymlink != 0 {
				return nil
			}
			if strings.HasPrefix(p, filepath.Join(dir, "intake")) {
				return nil
			}
			if strings.HasPrefix(fi.Name(), "part-0009") {
				t.Errorf("the outside part was copied into the lake: %s", p)
			}
			b, _ := os.ReadFile(p)
			if bytes.Contains(b, []byte(marker)) {
				t.Errorf("%s holds content read from outside the lake", p)
			}
			return nil
		})
	}

	t.Run("intake month is a link outside", func(t *testing.T) {
		env, dir := openTestEnv(t, spec, 10, 1, 0)
		out, _ := outsidePart(t)
		month := filepath.Join(dir, filepath.FromSlash(spec.IntakePrefix("2020-04")))
		os.MkdirAll(filepath.Dir(month), 0o755)
		if err := os.Symlink(out, month); err != nil {
			t.Fatal(err)
		}
		_, err := Run(ctx, env, spec, Options{Month: "2020-04"})
		if err == nil {
			t.Fatal("a run read a month linked from outside the lake")
		}
		t.Logf("error: %v", err)
		if !escapes(err, "intake/consumer/2020-04") {
			t.Errorf("error %q does not say the intake path escapes the lake", err)
		}
		noMarker(t, dir)
	})
	t.Run("intake part is a link outside", func(t *testing.T) {
		env, dir := openTestEnv(t, spec, 10, 1, 0)
		_, target := outsidePart(t)
		month := filepath.Join(dir, filepath.FromSlash(spec.IntakePrefix("2020-04")))
		os.MkdirAll(month, 0o755)
		if err := os.Symlink(target, filepath.Join(month, "part-0009.csv.gz")); err != nil {
			t.Fatal(err)
		}
		// Through the store, the link can be neither read nor listed.
		key := spec.IntakePrefix("2020-04") + "part-0009.csv.gz"
		if rc, err := env.Storage.Open(ctx, key); err == nil {
			rc.Close()
			t.Errorf("storage opened %s, a link to %s", key, target)
		}
		_, err := Run(ctx, env, spec, Options{Month: "2020-04"})
		if err == nil {
			t.Fatal("a run read a part linked from outside the lake")
		}
		t.Logf("error: %v", err)
		if !errors.Is(err, file.ErrNotRegular) {
			t.Errorf("error %q is not file.ErrNotRegular", err)
		}
		noMarker(t, dir)
	})
	t.Run("a linked part beside real parts", func(t *testing.T) {
		// The file store refuses links when listing, so the month fails
		// instead of being published without the part.
		env, dir := openTestEnv(t, spec, 100, 1, 0)
		_, target := outsidePart(t)
		month := filepath.Join(dir, filepath.FromSlash(spec.IntakePrefix(testMonth)))
		if err := os.Symlink(target, filepath.Join(month, "part-0009.csv.gz")); err != nil {
			t.Fatal(err)
		}
		_, err := Run(ctx, env, spec, Options{Month: testMonth})
		noMarker(t, dir)
		if !errors.Is(err, file.ErrNotRegular) {
			t.Errorf("run with a linked part: %v; want file.ErrNotRegular", err)
		}
	})
	t.Run("output prefix is a link outside", func(t *testing.T) {
		env, dir := openTestEnv(t, spec, 200, 1, 0)
		out := t.TempDir()
		if err := os.Symlink(out, filepath.Join(dir, "tier2")); err != nil {
			t.Fatal(err)
		}
		_, err := Run(ctx, env, spec, Options{Month: testMonth})
		if err == nil {
			t.Fatal("a run wrote through tier2 linked outside the lake")
		}
		t.Logf("error: %v", err)
		if !escapes(err, "tier2/") {
			t.Errorf("error %q does not name the tier-2 object and the escape", err)
		}
		var written []string
		filepath.Walk(out, func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				written = append(written, p)
			}
			return nil
		})
		if len(written) > 0 {
			t.Errorf("the run wrote outside the lake: %v", written)
		}
		if _, err := env.Catalog.GetPartition(ctx, spec.Database, spec.Output.Table, []string{testMonth}); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("partition published: %v", err)
		}
	})
}

// summary of a fault count map for messages.
func summary(m map[faultproxy.Kind]int64) string {
	var parts []string
	for _, k := range faultproxy.Kinds {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}
