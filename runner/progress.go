package runner

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progressBar draws one self-overwriting line on a terminal: percent of
// compressed bytes read, rate and ETA.
type progressBar struct {
	mu    sync.Mutex
	w     io.Writer
	label string
	start time.Time
	last  time.Time
	drawn bool
	done  int64
	total int64
}

func newProgressBar(w io.Writer, label string) *progressBar {
	return &progressBar{w: w, label: label, start: time.Now()}
}

// Update records progress; it redraws at most 10 times a second.
func (p *progressBar) Update(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.total = done, total
	if time.Since(p.last) < 100*time.Millisecond && done < total {
		return
	}
	p.last = time.Now()
	p.draw()
}

func (p *progressBar) draw() {
	if p.total <= 0 {
		return
	}
	frac := float64(p.done) / float64(p.total)
	el := time.Since(p.start)
	rate := float64(p.done) / el.Seconds() / 1e6
	eta := "?"
	if frac > 0.01 {
		eta = (time.Duration(float64(el)/frac) - el).Round(time.Second).String()
	}
	const width = 30
	n := int(frac * width)
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '.'
		if i < n {
			bar[i] = '='
		}
	}
	fmt.Fprintf(p.w, "\r%s [%s] %5.1f%%  %6.1f MB/s gz  ETA %s   ", p.label, bar, 100*frac, rate, eta)
	p.drawn = true
}

// Finish ends the line.
func (p *progressBar) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		p.draw()
		fmt.Fprintln(p.w)
	}
}
