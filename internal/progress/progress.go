package progress

import (
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bar tracks done out of total units of work. It is safe for concurrent use.
// A nil *Bar does nothing, so callers can pass nil to stay silent.
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	label    string
	total    int
	done     float64 // fractional while a unit is under way
	start    time.Time
	last     time.Time
	terminal bool
	every    time.Duration
}

// New starts a bar on standard error.
func New(label string, total int) *Bar {
	return NewTo(os.Stderr, label, total, isTerminal(os.Stderr))
}

// NewTo starts a bar on w; terminal selects redrawing in place.
func NewTo(w io.Writer, label string, total int, terminal bool) *Bar {
	every := 10 * time.Second
	if terminal {
		every = 200 * time.Millisecond
	}
	now := time.Now()
	return &Bar{w: w, label: label, total: total, start: now, terminal: terminal, every: every}
}

// Add records n more units done and redraws when due.
func (b *Bar) Add(n int) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(b.done + float64(n))
}

// advance sets done and redraws when due; b.mu is held.
func (b *Bar) advance(done float64) {
	b.done = done
	if now := time.Now(); now.Sub(b.last) >= b.every || b.done >= float64(b.total) {
		b.last = now
		b.draw(now)
	}
}

// Update sets the count of done units (and the total, when positive); its
// signature matches the progress callbacks of the library packages.
func (b *Bar) Update(done, total int) { b.UpdateFraction(float64(done), total) }

// UpdateFraction is Update with a fractional count, for work whose units
// report their own progress while under way (12.4 of 99 cells).
func (b *Bar) UpdateFraction(done float64, total int) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if total > 0 {
		b.total = total
	}
	b.advance(done)
}

// Finish prints the final state and ends the line.
func (b *Bar) Finish() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.terminal || b.done < float64(b.total) {
		b.draw(time.Now()) // a finished bar in log mode has printed its last line
	}
	if b.terminal {
		fmt.Fprintln(b.w)
	}
}

func (b *Bar) draw(now time.Time) {
	elapsed := now.Sub(b.start)
	frac := 0.0
	if b.total > 0 {
		frac = b.done / float64(b.total)
	}
	eta := "?"
	if b.done > 0 && b.done < float64(b.total) {
		eta = (time.Duration(float64(elapsed)/frac) - elapsed).Round(time.Second).String()
	} else if b.done >= float64(b.total) {
		eta = "0s"
	}
	if b.terminal {
		const width = 30
		fill := int(frac * width)
		fill = min(max(fill, 0), width)
		fmt.Fprintf(b.w, "\r%s [%s%s] %s/%d %3.0f%% elapsed %s ETA %s ", b.label,
			strings.Repeat("=", fill), strings.Repeat(" ", width-fill), count(b.done), b.total, 100*frac,
			elapsed.Round(time.Second), eta)
		return
	}
	fmt.Fprintf(b.w, "%s: %s/%d (%.0f%%) elapsed %s ETA %s\n", b.label, count(b.done), b.total, 100*frac,
		elapsed.Round(time.Second), eta)
}

// count prints a count of units: whole, or with one decimal while a unit
// is under way.
func count(done float64) string {
	if done == math.Trunc(done) {
		return strconv.FormatFloat(done, 'f', 0, 64)
	}
	return strconv.FormatFloat(done, 'f', 1, 64)
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
