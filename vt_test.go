package main

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// vt is a minimal terminal for the tests: it interprets what a program
// writes to a terminal (CR, LF, BS, TAB, and the CSI sequences that move
// the cursor and erase: A B C D G H J K, plus SGR colours and DEC private
// modes, which change nothing on the text) into the screen a person sees,
// keeping the lines that scroll off the top. Any other escape sequence is
// recorded in unknown, so a test notices what it cannot judge.
type vt struct {
	rows, cols int
	screen     [][]rune
	soft       []bool   // a screen row continues on the next (autowrap)
	history    []string // lines scrolled off the top, oldest first, untrimmed
	histSoft   []bool
	r, c       int
	wrapNext   bool // the last column was written: the next rune wraps
	pending    []byte
	unknown    []string
	// frame, when set, is called before each cursor-up: a program that
	// redraws lines (a progress area) moves up to start a new frame, so
	// the screen then shows its last frame whole.
	frame func()
}

func newVT(rows, cols int) *vt {
	v := &vt{rows: rows, cols: cols}
	v.screen, v.soft = make([][]rune, rows), make([]bool, rows)
	for i := range v.screen {
		v.screen[i] = blank(cols)
	}
	return v
}

func blank(n int) []rune { return []rune(strings.Repeat(" ", n)) }

// Write interprets p; a sequence cut between two writes is kept for the
// next.
func (v *vt) Write(p []byte) (int, error) {
	v.pending = append(v.pending, p...)
	b := v.pending
	for len(b) > 0 {
		n := v.step(b)
		if n == 0 {
			break // incomplete: wait for more
		}
		b = b[n:]
	}
	v.pending = append(v.pending[:0], b...)
	return len(p), nil
}

// step interprets the sequence at the start of b and returns its length,
// or 0 when b holds only its beginning.
func (v *vt) step(b []byte) int {
	switch b[0] {
	case '\r':
		v.c, v.wrapNext = 0, false
		return 1
	case '\n':
		v.lineFeed()
		return 1
	case '\b':
		v.c, v.wrapNext = max(v.c-1, 0), false
		return 1
	case '\t':
		v.c = min((v.c/8+1)*8, v.cols-1)
		return 1
	case 0x07: // bell
		return 1
	case 0x1b:
		return v.escape(b)
	}
	if !utf8.FullRune(b) {
		return 0
	}
	r, n := utf8.DecodeRune(b)
	if r < 0x20 {
		v.unknown = append(v.unknown, fmt.Sprintf("control %#x", r))
		return n
	}
	if v.wrapNext {
		v.c = 0
		v.soft[v.r] = true
		v.lineFeed()
	}
	v.screen[v.r][v.c] = r
	if v.c == v.cols-1 {
		v.wrapNext = true
	} else {
		v.c++
	}
	return n
}

func (v *vt) lineFeed() {
	v.wrapNext = false
	if v.r < v.rows-1 {
		v.r++
		return
	}
	v.history, v.histSoft = append(v.history, string(v.screen[0])), append(v.histSoft, v.soft[0])
	copy(v.screen, v.screen[1:])
	copy(v.soft, v.soft[1:])
	v.screen[v.rows-1], v.soft[v.rows-1] = blank(v.cols), false
}

// escape interprets an escape sequence at the start of b.
func (v *vt) escape(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	if b[1] != '[' {
		v.unknown = append(v.unknown, strconv.Quote(string(b[:2])))
		return 2
	}
	end := 2
	for end < len(b) && (b[end] < 0x40 || b[end] > 0x7e) {
		end++
	}
	if end == len(b) {
		return 0
	}
	params, final := string(b[2:end]), b[end]
	n := end + 1
	if strings.HasPrefix(params, "?") {
		return n // DEC private modes: cursor visibility and the like
	}
	var args []int
	for _, f := range strings.Split(params, ";") {
		a, _ := strconv.Atoi(f)
		args = append(args, a)
	}
	arg := func(i, def int) int {
		if i < len(args) && args[i] > 0 {
			return args[i]
		}
		return def
	}
	if final == 'A' && v.frame != nil {
		v.frame()
	}
	v.wrapNext = false
	switch final {
	case 'A':
		v.r = max(v.r-arg(0, 1), 0)
	case 'B':
		v.r = min(v.r+arg(0, 1), v.rows-1)
	case 'C':
		v.c = min(v.c+arg(0, 1), v.cols-1)
	case 'D':
		v.c = max(v.c-arg(0, 1), 0)
	case 'G':
		v.c = min(arg(0, 1), v.cols) - 1
	case 'H':
		v.r, v.c = min(arg(0, 1), v.rows)-1, min(arg(1, 1), v.cols)-1
	case 'J':
		switch arg(0, 0) {
		case 0:
			v.eraseLine(v.r, v.c, v.cols)
			for r := v.r + 1; r < v.rows; r++ {
				v.eraseLine(r, 0, v.cols)
			}
		case 1:
			for r := 0; r < v.r; r++ {
				v.eraseLine(r, 0, v.cols)
			}
			v.eraseLine(v.r, 0, v.c+1)
		default:
			for r := range v.rows {
				v.eraseLine(r, 0, v.cols)
			}
		}
	case 'K':
		switch arg(0, 0) {
		case 0:
			v.eraseLine(v.r, v.c, v.cols)
		case 1:
			v.eraseLine(v.r, 0, v.c+1)
		default:
			v.eraseLine(v.r, 0, v.cols)
		}
	case 'm': // colours
	default:
		v.unknown = append(v.unknown, strconv.Quote(string(b[:n])))
	}
	return n
}

func (v *vt) eraseLine(r, from, to int) {
	for c := from; c < to; c++ {
		v.screen[r][c] = ' '
	}
	if to == v.cols {
		v.soft[r] = false
	}
}

// Screen is what the terminal shows, each line right-trimmed.
func (v *vt) Screen() []string {
	out := make([]string, v.rows)
	for i, l := range v.screen {
		out[i] = strings.TrimRight(string(l), " ")
	}
	return out
}

// Transcript is every line the terminal has shown that is still there:
// the scrolled-off lines, then the screen, without the blank lines at its
// end.
func (v *vt) Transcript() []string {
	var all []string
	for _, l := range v.history {
		all = append(all, strings.TrimRight(l, " "))
	}
	all = append(all, v.Screen()...)
	for len(all) > 0 && all[len(all)-1] == "" {
		all = all[:len(all)-1]
	}
	return all
}

// Logical is the Transcript with the rows the terminal wrapped joined
// back into the lines the program wrote.
func (v *vt) Logical() []string {
	rows := append([]string{}, v.history...)
	soft := append([]bool{}, v.histSoft...)
	for i, l := range v.screen {
		rows, soft = append(rows, string(l)), append(soft, v.soft[i])
	}
	var out []string
	cont := false
	for i, r := range rows {
		if cont {
			out[len(out)-1] += r
		} else {
			out = append(out, r)
		}
		if cont = soft[i]; !cont {
			out[len(out)-1] = strings.TrimRight(out[len(out)-1], " ")
		}
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}
