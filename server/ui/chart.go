package ui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/imalert/imalert/alert/trace"
)

// chart is an inline SVG of events per minute, stacked by error code.
type chart struct {
	Caption  string
	W, H     int
	Max      int
	Total    int
	From, To string
	Series   []chartSeries
}

type chartSeries struct {
	Label string
	Color string
	Total int
	D     string // the area's path
}

var palette = []string{"#1f5fbf", "#d9480f", "#2b8a3e", "#ae3ec9", "#e8590c", "#868e96"}

const chartH = 100

// newChart stacks series (one count per minute, oldest first) into areas.
func newChart(caption string, series []trace.Series, end time.Time, minutes int) chart {
	c := chart{Caption: caption, W: minutes, H: chartH,
		From: end.Add(-time.Duration(minutes-1) * time.Minute).UTC().Format("15:04"), To: end.UTC().Format("15:04 UTC")}
	sums := make([]int, minutes)
	for _, s := range series {
		for i, n := range s.Counts {
			sums[i] += n
		}
		c.Total += s.Total
	}
	for _, n := range sums {
		c.Max = max(c.Max, n)
	}
	scale := float64(chartH) / float64(max(c.Max, 1))
	base := make([]int, minutes)
	for i, s := range series {
		top := make([]int, minutes)
		for j := range minutes {
			top[j] = base[j] + s.Counts[j]
		}
		c.Series = append(c.Series, chartSeries{Label: codeLabel(s.Code), Color: palette[i%len(palette)], Total: s.Total,
			D: area(base, top, scale)})
		base = top
	}
	return c
}

// area is the path between the lower and upper lines, each minute a step
// one unit wide; runs of equal values are one segment, so a quiet day is
// a short path.
func area(lower, upper []int, scale float64) string {
	var b strings.Builder
	y := func(n int) string { return strconv.FormatFloat(chartH-float64(n)*scale, 'f', 1, 64) }
	fmt.Fprintf(&b, "M0 %s", y(upper[0]))
	for i := 1; i < len(upper); i++ {
		if upper[i] != upper[i-1] {
			fmt.Fprintf(&b, "H%d V%s", i, y(upper[i]))
		}
	}
	n := len(lower)
	fmt.Fprintf(&b, "H%d V%s", n, y(lower[n-1]))
	for i := n - 2; i >= 0; i-- {
		if lower[i] != lower[i+1] {
			fmt.Fprintf(&b, "H%d V%s", i+1, y(lower[i]))
		}
	}
	b.WriteString("H0 Z")
	return b.String()
}

func codeLabel(code int64) string {
	switch code {
	case trace.CodeOther:
		return "other"
	case trace.CodeNone:
		return "no code"
	}
	return strconv.FormatInt(code, 10)
}
