package local_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/catalog/local"
)

func open(t *testing.T, path string) *local.Catalog {
	t.Helper()
	c, err := local.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func bucketedTable() catalog.Table {
	return catalog.Table{
		Database: "db", Name: "t", TableType: "EXTERNAL_TABLE",
		PartitionKeys: []catalog.Column{{Name: "month", Type: "string"}},
		StorageDescriptor: catalog.StorageDescriptor{
			Columns:         []catalog.Column{{Name: "state", Type: "string"}, {Name: "n", Type: "int"}},
			Location:        "file:///lake/t/",
			NumberOfBuckets: 2, BucketColumns: []string{"state"},
		},
	}
}

func part(values ...string) catalog.Partition {
	sd := bucketedTable().StorageDescriptor
	sd.Location = "loc/" + strings.Join(values, "/")
	return catalog.Partition{Database: "db", Table: "t", Values: values, StorageDescriptor: sd}
}

func setupFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "catalog.json")
	c := open(t, path)
	if err := c.EnsureDatabase(t.Context(), "db"); err != nil {
		t.Fatal(err)
	}
	if err := c.PutTable(t.Context(), bucketedTable()); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTwoCatalogsSameFile: separate *Catalog values (separate lock file
// descriptors, as two processes would have) never lose each other's updates.
func TestTwoCatalogsSameFile(t *testing.T) {
	path := setupFile(t)
	var wg sync.WaitGroup
	for w := range 2 {
		c := open(t, path)
		wg.Go(func() {
			for i := range 20 {
				if err := c.PutPartition(t.Context(), part(fmt.Sprintf("c%d-%02d", w, i))); err != nil {
					t.Errorf("catalog %d: %v", w, err)
				}
			}
		})
	}
	wg.Wait()
	ps, err := open(t, path).ListPartitions(t.Context(), "db", "t")
	if err != nil || len(ps) != 40 {
		t.Fatalf("%d partitions, %v; want 40", len(ps), err)
	}
}

const childEnv = "TIERFLOW_CATALOG_TEST_CHILD"

// TestCrossProcess runs child processes (this test binary) that all add
// partitions to one catalog file at the same time.
func TestCrossProcess(t *testing.T) {
	path := setupFile(t)
	const procs, each = 4, 10
	var wg sync.WaitGroup
	for p := range procs {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestChildPut$")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%d|%d", childEnv, path, p, each))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("child %d: %v\n%s", p, err, out)
			}
		})
	}
	wg.Wait()
	ps, err := open(t, path).ListPartitions(t.Context(), "db", "t")
	if err != nil || len(ps) != procs*each {
		t.Fatalf("%d partitions, %v; want %d", len(ps), err, procs*each)
	}
}

// TestChildPut is the child half of TestCrossProcess; it does nothing when
// run normally.
func TestChildPut(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("child process helper for TestCrossProcess")
	}
	f := strings.Split(spec, "|")
	id, _ := strconv.Atoi(f[1])
	n, _ := strconv.Atoi(f[2])
	c := open(t, f[0])
	for i := range n {
		if err := c.PutPartition(context.Background(), part(fmt.Sprintf("p%d-%02d", id, i))); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVersionIncreases(t *testing.T) {
	path := setupFile(t)
	c := open(t, path)
	for want := 1; want <= 3; want++ {
		tb, err := c.GetTable(t.Context(), "db", "t")
		if err != nil || tb.Version != strconv.Itoa(want) {
			t.Fatalf("version %q, %v; want %d", tb.Version, err, want)
		}
		if err := c.PutTable(t.Context(), bucketedTable()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLocalValidation(t *testing.T) {
	path := setupFile(t)
	c := open(t, path)
	ctx := t.Context()
	for _, name := range []string{"bad name", "a.b", "ünï", "semi;colon", strings.Repeat("x", 256)} {
		if err := c.EnsureDatabase(ctx, name); !errors.Is(err, local.ErrInvalid) {
			t.Errorf("EnsureDatabase(%q) = %v, want ErrInvalid", name, err)
		}
		tb := bucketedTable()
		tb.Name = name
		if err := c.PutTable(ctx, tb); !errors.Is(err, local.ErrInvalid) {
			t.Errorf("PutTable(name %q) = %v, want ErrInvalid", name, err)
		}
	}
	mutations := map[string]func(*catalog.Table){
		"uppercase column": func(tb *catalog.Table) { tb.StorageDescriptor.Columns[1].Name = "N" },
		"duplicate column": func(tb *catalog.Table) { tb.PartitionKeys[0].Name = "state" },
		"untyped column":   func(tb *catalog.Table) { tb.StorageDescriptor.Columns[1].Type = "" },
		"sort on partition key": func(tb *catalog.Table) {
			tb.StorageDescriptor.SortColumns = []catalog.SortColumn{{Column: "month", SortOrder: 1}}
		},
		"bad sort order": func(tb *catalog.Table) {
			tb.StorageDescriptor.SortColumns = []catalog.SortColumn{{Column: "state", SortOrder: 2}}
		},
		"bucket column case": func(tb *catalog.Table) { tb.StorageDescriptor.BucketColumns = []string{"State"} },
	}
	for what, mutate := range mutations {
		tb := bucketedTable()
		tb.Name = "other"
		mutate(&tb)
		if err := c.PutTable(ctx, tb); !errors.Is(err, local.ErrInvalid) {
			t.Errorf("%s: PutTable = %v, want ErrInvalid", what, err)
		}
	}
	if err := c.PutPartition(ctx, part("")); !errors.Is(err, local.ErrInvalid) {
		t.Errorf("empty partition value: %v", err)
	}
	// Changing the number of partition keys under existing partitions.
	if err := c.PutPartition(ctx, part("2020-03")); err != nil {
		t.Fatal(err)
	}
	tb := bucketedTable()
	tb.PartitionKeys = append(tb.PartitionKeys, catalog.Column{Name: "region", Type: "string"})
	if err := c.PutTable(ctx, tb); err == nil {
		t.Error("partition keys changed under existing partitions")
	}
}

func TestDocumentIsGlueShaped(t *testing.T) {
	path := setupFile(t)
	c := open(t, path)
	if err := c.PutPartition(t.Context(), part("2020-03")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Format    string
		Databases []struct {
			Name   string
			Tables []struct {
				Table      map[string]any
				Partitions []map[string]any
			}
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	tb := doc.Databases[0].Tables[0]
	sd, _ := tb.Table["StorageDescriptor"].(map[string]any)
	psd, _ := tb.Partitions[0]["StorageDescriptor"].(map[string]any)
	if doc.Format != "tierflow-catalog/1" || tb.Table["DatabaseName"] != "db" || sd["NumberOfBuckets"] != 2.0 ||
		tb.Partitions[0]["TableName"] != "t" || psd["NumberOfBuckets"] != 2.0 {
		t.Fatalf("unexpected document:\n%s", b)
	}
}

func TestCorruptFileRejected(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.json")
	os.WriteFile(path, []byte("{not json"), 0o644)
	if _, err := local.Open(path); err == nil {
		t.Fatal("corrupt catalog opened")
	}
	os.WriteFile(path, []byte(`{"Format":"other/9"}`), 0o644)
	if _, err := local.Open(path); err == nil {
		t.Fatal("foreign format opened")
	}
}

// TestLockWaitHonoursContext: a writer waiting for another process's lock
// gives up when its context ends, and readers are not blocked meanwhile.
func TestLockWaitHonoursContext(t *testing.T) {
	path := setupFile(t)
	lock, err := os.OpenFile(filepath.Join(filepath.Dir(path), ".catalog.json.lock"), os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	c := open(t, path)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := c.PutPartition(ctx, part("2020-03")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("put while locked: %v, want deadline exceeded", err)
	}
	if _, err := c.GetTable(t.Context(), "db", "t"); err != nil {
		t.Fatalf("read while locked: %v", err)
	}
	syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if err := c.PutPartition(t.Context(), part("2020-03")); err != nil {
		t.Fatalf("put after unlock: %v", err)
	}
}
