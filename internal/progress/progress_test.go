package progress

import (
	"bytes"
	"strings"
	"testing"
)

func TestLogLines(t *testing.T) {
	var buf bytes.Buffer
	b := NewTo(&buf, "cells", 4, false)
	for i := 0; i < 4; i++ {
		b.Add(1)
	}
	b.Finish()
	out := buf.String()
	if !strings.Contains(out, "cells: 4/4 (100%)") {
		t.Errorf("no final line in %q", out)
	}
	if n := strings.Count(out, "cells: 4/4"); n != 1 {
		t.Errorf("final line printed %d times in %q", n, out)
	}
	if strings.Contains(out, "\r") {
		t.Errorf("log mode must not redraw in place: %q", out)
	}
}

func TestTerminalBar(t *testing.T) {
	var buf bytes.Buffer
	b := NewTo(&buf, "train", 2, true)
	b.Add(2)
	b.Finish()
	if out := buf.String(); !strings.Contains(out, "\rtrain [") || !strings.HasSuffix(out, "\n") {
		t.Errorf("terminal bar output %q", out)
	}
	var nilBar *Bar
	nilBar.Add(1) // must not panic
	nilBar.Finish()
}
