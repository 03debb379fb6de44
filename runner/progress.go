package runner

// The terminal during a local run: log lines scroll above a live progress
// area, drawn by mpb, with one line per part and one overall line, from
// plan to publish. When standard error is not a terminal there is no area:
// the logs are plain lines.

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/vbauerster/cupwriter"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// Console is standard error as the log lines and a run's progress area
// share it. While an area is shown, what is written to the Console goes
// through the area's container, which prints it above the bars at its next
// refresh; so a log line never lands on a bar line. The logger writes to
// the Console (one Write per line).
type Console struct {
	mu   sync.Mutex
	out  io.Writer
	tty  bool
	area *mpb.Progress
}

// NewConsole wraps out, which is a terminal when tty is true; only then
// does a run draw a progress area on it.
func NewConsole(out io.Writer, tty bool) *Console {
	return &Console{out: out, tty: tty}
}

// Write writes p above the progress area, or straight to the terminal when
// none is shown.
func (c *Console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.area != nil {
		return c.area.Write(p)
	}
	return c.out.Write(p)
}

// Watcher is told what a local run is doing, for a progress display. The
// run calls it from several goroutines at once.
type Watcher interface {
	// Stage says the run enters a stage: plan, pristine, convert, stage,
	// derive or publish.
	Stage(name string)
	// Plan gives the parts the plan found and how many derived tables
	// the run builds.
	Plan(parts []Part, tables int)
	// PartRead says part i is done bytes of total through the stage.
	PartRead(i int, done, total int64)
	// PartDone says part i is through the stage (rows written, for
	// convert), or failed.
	PartDone(i int, rows int64, err error)
	// Table says derived table i of n, name, is being built.
	Table(i, n int, name string)
}

// noWatch is the Watcher of a run nobody watches.
type noWatch struct{}

func (noWatch) Stage(string)               {}
func (noWatch) Plan([]Part, int)           {}
func (noWatch) PartRead(int, int64, int64) {}
func (noWatch) PartDone(int, int64, error) {}
func (noWatch) Table(int, int, string)     {}

// Many parts (60 on a big month) would fill the screen: above this many,
// a part's line shows only while the part is being worked on.
const maxPartLines = 12

// refreshRate is how often the area is redrawn (mpb's default is 150ms).
const refreshRate = 120 * time.Millisecond

// progressArea is a run's live progress on a terminal. It implements
// Watcher.
type progressArea struct {
	con    *Console
	p      *mpb.Progress
	label  string
	t0     time.Time
	closed sync.Once

	mu        sync.Mutex
	stage     string
	stageT0   time.Time
	parts     []*partLine
	nameWidth int
	copied    int // parts through pristine
	converted int // parts through convert
	failed    int
	table     int // derived tables done
	tables    int
	tableName string
	overall   *mpb.Bar
	bars      []*mpb.Bar // every bar ever added, dropped at close
}

// partLine is one part's line.
type partLine struct {
	name  string
	size  int64
	state string
	read  int64
	rows  int64
	bar   *mpb.Bar
}

// startProgress shows a progress area on con when it is a terminal; nil
// otherwise (then the run shows its log lines only).
func startProgress(con *Console, label string) *progressArea {
	if con == nil || !con.tty {
		return nil
	}
	// Each redraw starts at the first column: the terminal's echo of a
	// key (^C) moves the cursor right, and moving up from there would
	// leave the echo and shift every line drawn after it.
	cw := cupwriter.New(carriageReturnFirst{con.out}, true)
	if f, ok := con.out.(interface{ Fd() uintptr }); ok {
		cw.SetTermFd(int(f.Fd()))
	}
	opts := []mpb.ContainerOption{mpb.WithConsoleWriter(cw), mpb.WithRefreshRate(refreshRate), mpb.WithWidth(22), mpb.WithAutoRefresh()}
	a := &progressArea{con: con, label: label, t0: time.Now(), stage: "start", stageT0: time.Now()}
	con.mu.Lock()
	a.p = mpb.New(opts...)
	con.area = a.p
	con.mu.Unlock()
	a.overall = a.add(math.MaxInt32, overallUnits, func(decor.Statistics) string { return a.overallText() }, a.overallTail)
	return a
}

// carriageReturnFirst writes a carriage return before each write.
type carriageReturnFirst struct{ w io.Writer }

func (c carriageReturnFirst) Write(p []byte) (int, error) {
	if _, err := c.w.Write(append([]byte{'\r'}, p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// overallUnits is the overall bar's total: its fraction is the run's,
// in thousandths.
const overallUnits = 1000

// add adds a bar whose text left and right of the filler are left() and
// right(). Its total is one more than any value it is set to, so it never
// completes by itself: close drops every bar at once.
//
// The texts are drawn from the bar's goroutine: they take a.mu, so no bar
// method is called while holding it.
func (a *progressArea) add(priority int, total int64, left, right decor.DecorFunc) *mpb.Bar {
	style := mpb.BarStyle().Lbound("[").Filler("=").Tip(">").Padding(" ").Rbound("]")
	b := a.p.New(total+1, style, mpb.BarPriority(priority),
		mpb.PrependDecorators(decor.Any(left)), mpb.AppendDecorators(decor.Any(right)))
	a.mu.Lock()
	a.bars = append(a.bars, b)
	a.mu.Unlock()
	return b
}

// close removes the area: every bar is dropped, so the last refresh
// clears what the area drew and leaves the log lines written meanwhile;
// after it the Console writes straight to the terminal. Holding the
// Console's lock keeps log lines from landing between the last refresh and
// the switch back.
func (a *progressArea) close() {
	if a == nil {
		return
	}
	a.closed.Do(func() {
		a.con.mu.Lock()
		defer a.con.mu.Unlock()
		a.mu.Lock()
		bars := a.bars
		a.mu.Unlock()
		for _, b := range slices.Backward(bars) { // the overall line goes last
			b.Abort(true)
		}
		a.p.Wait()
		a.con.area = nil
	})
}

// Stage implements Watcher.
func (a *progressArea) Stage(name string) {
	a.mu.Lock()
	a.stage, a.stageT0 = name, time.Now()
	a.mu.Unlock()
	a.advance()
}

// Plan implements Watcher.
func (a *progressArea) Plan(parts []Part, tables int) {
	a.mu.Lock()
	a.tables = tables
	a.parts = make([]*partLine, len(parts))
	for i, p := range parts {
		a.parts[i] = &partLine{name: p.Name, size: p.Size, state: "waiting"}
		a.nameWidth = max(a.nameWidth, len(p.Name))
	}
	few := len(parts) <= maxPartLines
	a.mu.Unlock()
	if few {
		for i := range parts {
			a.showPart(i)
		}
	}
}

// showPart gives part i its line, if it has none yet.
func (a *progressArea) showPart(i int) *mpb.Bar {
	a.mu.Lock()
	pl := a.parts[i]
	b := pl.bar
	a.mu.Unlock()
	if b != nil {
		return b
	}
	b = a.add(i, max(pl.size, 1), func(decor.Statistics) string { return a.partText(i) }, func(decor.Statistics) string { return a.partTail(i) })
	a.mu.Lock()
	pl.bar = b
	a.mu.Unlock()
	return b
}

// PartRead implements Watcher.
func (a *progressArea) PartRead(i int, done, total int64) {
	if i < 0 || i >= len(a.parts) {
		return
	}
	b := a.showPart(i)
	a.mu.Lock()
	pl := a.parts[i]
	resized := total > 0 && total != pl.size
	if resized {
		pl.size = total
	}
	pl.read = min(done, pl.size)
	pl.state = a.stage
	read := pl.read
	a.mu.Unlock()
	if resized {
		b.SetTotal(total+1, false)
	}
	b.SetCurrent(read)
	a.advance()
}

// PartDone implements Watcher.
func (a *progressArea) PartDone(i int, rows int64, err error) {
	if i < 0 || i >= len(a.parts) {
		return
	}
	b := a.showPart(i)
	a.mu.Lock()
	pl := a.parts[i]
	switch {
	case err != nil:
		pl.state = "failed"
		a.failed++
	case a.stage == "pristine":
		pl.state, pl.read = "copied", 0
		a.copied++
	default:
		pl.state, pl.read, pl.rows = "converted", pl.size, rows
		a.converted++
	}
	read, drop := pl.read, len(a.parts) > maxPartLines && err == nil && a.stage == "convert"
	a.mu.Unlock()
	b.SetCurrent(read)
	if drop {
		b.Abort(true)
	}
	a.advance()
}

// Table implements Watcher.
func (a *progressArea) Table(i, n int, name string) {
	a.mu.Lock()
	a.table, a.tables, a.tableName = i, n, name
	a.mu.Unlock()
	a.advance()
}

// advance sets the overall bar to the run's fraction done. The weights
// are rough times: half a part's conversion for its copy to tier 1, one
// part's conversion for each derived table, half of one each for plan,
// stage and publish; the fraction never goes back.
func (a *progressArea) advance() {
	a.mu.Lock()
	n, tables := float64(len(a.parts)), float64(a.tables)
	var conv float64
	for _, p := range a.parts {
		if p.size > 0 && p.state != "copied" && p.state != "waiting" {
			conv += float64(p.read) / float64(p.size)
		}
	}
	var done float64
	switch a.stage {
	case "pristine":
		done = 0.5 + 0.5*float64(a.copied)
	case "convert":
		done = 0.5 + 0.5*n + conv
	case "stage":
		done = 0.5 + 1.5*n
	case "derive":
		done = 1 + 1.5*n + float64(a.table)
	case "publish":
		done = 1 + 1.5*n + tables
	}
	total := 1.5 + 1.5*n + tables
	a.mu.Unlock()
	a.overall.SetCurrent(min(int64(done/total*overallUnits), overallUnits))
}

// partText is the left of part i's line: its name and state.
func (a *progressArea) partText(i int) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	pl := a.parts[i]
	state := pl.state
	switch {
	case state == "pristine":
		state = "copying"
	case state == "convert":
		state = "converting"
	case state == "copied" && a.stage != "pristine":
		state = "queued"
	}
	return pad(fmt.Sprintf("%-*s  %s", a.nameWidth, pl.name, state), a.leftWidth())
}

// leftWidth is the width of the text left of the bars, so they line up.
func (a *progressArea) leftWidth() int { return max(a.nameWidth+13, 36) }

// pad cuts s to n-1 columns or pads it to n.
func pad(s string, n int) string {
	if r := []rune(s); len(r) > n-1 {
		s = string(r[:n-2]) + "…"
	}
	return fmt.Sprintf("%-*s", n, s)
}

// partTail is the right of part i's line.
func (a *progressArea) partTail(i int) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	pl := a.parts[i]
	if pl.state == "converted" {
		return fmt.Sprintf(" %d rows", pl.rows)
	}
	return fmt.Sprintf(" %3.0f%% of %s", percent(pl.read, pl.size), HumanBytes(pl.size))
}

// overallText is the left of the overall line: the stage and where it is.
func (a *progressArea) overallText() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := len(a.parts)
	var s string
	switch a.stage {
	case "start":
		s = "starting"
	case "gen":
		s = "generating"
	case "plan":
		s = "planning"
	case "pristine":
		s = fmt.Sprintf("tier 1 %d/%d copied", a.copied, n)
	case "convert":
		s = fmt.Sprintf("convert %d/%d parts", a.converted, n)
		if a.failed > 0 {
			s += fmt.Sprintf(", %d failed", a.failed)
		}
	case "stage":
		s = "staging"
	case "derive":
		s = fmt.Sprintf("derive %d/%d", a.table, a.tables)
		if a.tableName != "" && a.table < a.tables {
			s += " " + a.tableName
		}
	case "publish":
		s = "publishing"
	default:
		s = a.stage
	}
	return pad(a.label+"  "+s, a.leftWidth())
}

// overallTail is the right of the overall line: percent, and the elapsed
// time with, while converting, the rate and time left.
func (a *progressArea) overallTail(st decor.Statistics) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var read, size int64
	for _, p := range a.parts {
		size += p.size
		if p.state != "copied" && p.state != "waiting" {
			read += p.read
		}
	}
	pct := 100 * float64(st.Current) / overallUnits
	if a.stage == "convert" && read > 0 {
		rate := float64(read) / time.Since(a.stageT0).Seconds()
		left := time.Duration(float64(size-read) / rate * float64(time.Second))
		return fmt.Sprintf(" %3.0f%% %s/s ETA %s", pct, HumanBytes(int64(rate)), left.Round(time.Second))
	}
	return fmt.Sprintf(" %3.0f%% elapsed %s", pct, time.Since(a.t0).Round(time.Second))
}

func percent(n, of int64) float64 {
	if of <= 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// HumanBytes writes n in B, KiB, MiB or GiB: the progress area's sizes
// and the run summary's.
func HumanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}
