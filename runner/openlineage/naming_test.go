package openlineage

import (
	"regexp"
	"testing"
	"time"
)

func TestDatasetAt(t *testing.T) {
	for _, c := range []struct{ uri, ns, name string }{
		{"s3://lake-bucket/prefix/tier2/consumer_header/", "s3://lake-bucket", "prefix/tier2/consumer_header"},
		{"s3://b/intake/consumer/2020-03/part-0001.csv.gz", "s3://b", "intake/consumer/2020-03/part-0001.csv.gz"},
		{"file:///srv/lake/tier1/x/month=2020-03/delivery=ab12/", "file", "/srv/lake/tier1/x/month=2020-03/delivery=ab12"},
		{"file://localhost/srv/lake/a.csv", "file", "/srv/lake/a.csv"},
	} {
		d, err := DatasetAt(c.uri)
		if err != nil || d.Namespace != c.ns || d.Name != c.name {
			t.Errorf("DatasetAt(%q) = %q %q, %v; want %q %q", c.uri, d.Namespace, d.Name, err, c.ns, c.name)
		}
	}
	for _, bad := range []string{"s3://bucket-only", "file://relative/path", "hdfs://nn/x", "/no/scheme"} {
		if d, err := DatasetAt(bad); err == nil {
			t.Errorf("DatasetAt(%q) = %+v, want an error", bad, d)
		}
	}
}

var uuidV7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestRunID(t *testing.T) {
	t0 := time.Date(2020, 4, 2, 6, 0, 1, 123456789, time.UTC)
	a := RunID("consumer-header/3f2a9c01b7de-1", t0)
	if !uuidV7.MatchString(a) {
		t.Fatalf("RunID = %s, not a version-7 UUID", a)
	}
	// The same run, computed in another process from the stored record.
	if b := RunID("consumer-header/3f2a9c01b7de-1", t0.Round(0)); b != a {
		t.Errorf("RunID differs for the same run: %s, %s", a, b)
	}
	// Its first 48 bits are the start in Unix milliseconds.
	if got, want := a[:8]+a[9:13], "017139799363"; got != want {
		// 2020-04-02T06:00:01.123Z is 1585807201123 ms, 0x017139799363
		t.Errorf("RunID time bits %s, want %s", got, want)
	}
	seen := map[string]string{a: "original"}
	for what, id := range map[string]string{
		"another attempt":          RunID("consumer-header/3f2a9c01b7de-2", t0),
		"a reused id, later start": RunID("consumer-header/3f2a9c01b7de-1", t0.Add(time.Nanosecond)),
		"a derived table's run":    RunID("consumer-header/3f2a9c01b7de-1/consumer_ca", t0),
	} {
		if other, dup := seen[id]; dup {
			t.Errorf("%s has the id of %s: %s", what, other, id)
		}
		seen[id] = what
	}
	if later := RunID("x", t0.Add(time.Second)); later <= RunID("x", t0) {
		t.Errorf("ids do not sort by start: %s <= %s", later, RunID("x", t0))
	}
}
