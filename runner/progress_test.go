package runner

import (
	"bytes"
	"errors"
	"sync"
	"testing"
)

// lockedBuffer is a terminal stand-in the area and a test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// The overall line's fraction never goes back through a run's stages, and
// reaches its end only at publish; a console that is no terminal gets no
// area.
func TestProgressOverallNeverGoesBack(t *testing.T) {
	if startProgress(NewConsole(&lockedBuffer{}, false), "2020-03") != nil {
		t.Fatal("an area on a console that is no terminal")
	}
	a := startProgress(NewConsole(&lockedBuffer{}, true), "2020-03")
	defer a.close()
	parts := []Part{{Name: "p1", Size: 1000}, {Name: "p2", Size: 3000}, {Name: "p3", Size: 10}}
	last := int64(-1)
	step := func(what string) {
		t.Helper()
		cur := a.overall.Current()
		if cur < last || cur >= overallUnits {
			t.Errorf("after %s the overall bar is at %d/%d (was %d)", what, cur, overallUnits, last)
		}
		last = cur
	}
	a.Stage("plan")
	step("plan")
	a.Plan(parts, 2)
	a.Stage("pristine")
	step("pristine")
	for i := range parts {
		a.PartRead(i, 0, parts[i].Size)
		a.PartDone(i, 0, nil)
		step("a copy")
	}
	a.Stage("convert")
	step("convert")
	for i, p := range parts {
		for _, f := range []int64{0, 3, 10} {
			a.PartRead(i, p.Size*f/10, p.Size)
			step("a part's progress")
		}
		a.PartDone(i, 100, nil)
		step("a part converted")
	}
	a.Stage("stage")
	step("stage")
	a.Stage("derive")
	for i := range 3 {
		a.Table(i, 2, "t")
		step("a table")
	}
	a.Stage("publish")
	step("publish")
	if last < overallUnits*9/10 {
		t.Errorf("at publish the overall bar is at %d/%d", last, overallUnits)
	}
	a.PartDone(1, 0, errors.New("x")) // a late failure changes no fraction
	step("a late failure")
}
