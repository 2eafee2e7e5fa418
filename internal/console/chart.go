package console

import (
	"bytes"
	"html/template"
	"strconv"
)

// Charts are SVG made here, on the server: stacked bars per day, with a
// title for screen readers and the same numbers in a table beside them.
// No script draws them, so they obey the console's CSP and print.

type bar struct {
	Label string
	Parts []int // one per series, stacked bottom up
}

type chartData struct {
	ID     string
	Title  string
	Series []string
	Bars   []chartBar
	Ticks  []chartTick
	W, H   int
	Rows   []bar // the table
	Max    int
}

type chartBar struct {
	X, W  int
	Label string
	Rects []chartRect
}

type chartRect struct {
	Y, H   int
	Series int
	Title  string
}

type chartTick struct {
	Y     int
	Label string
}

var chartTemplate = template.Must(template.New("chart").Parse(`<figure class="chart">
<svg viewBox="0 0 {{.W}} {{.H}}" role="img" aria-labelledby="{{.ID}}" preserveAspectRatio="xMidYMid meet">
<title id="{{.ID}}">{{.Title}}</title>
{{range .Ticks}}<line class="grid" x1="36" x2="{{$.W}}" y1="{{.Y}}" y2="{{.Y}}"/><text class="tick" x="32" y="{{.Y}}" text-anchor="end" dominant-baseline="middle">{{.Label}}</text>
{{end}}{{range .Bars}}<g>{{$x := .X}}{{$w := .W}}{{range .Rects}}<rect class="s{{.Series}}" x="{{$x}}" y="{{.Y}}" width="{{$w}}" height="{{.H}}"><title>{{.Title}}</title></rect>{{end}}{{with .Label}}<text class="tick" x="{{$x}}" y="{{$.H}}" dy="-6" dx="{{$w}}" text-anchor="end">{{.}}</text>{{end}}</g>
{{end}}</svg>
<figcaption>{{.Title}} <span class="legend">{{range $i, $s := .Series}}<span class="key s{{$i}}">{{$s}}</span> {{end}}</span></figcaption>
<details><summary>Numbers</summary><table><thead><tr><th scope="col">Day</th>{{range .Series}}<th scope="col">{{.}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}<tr><th scope="row">{{.Label}}</th>{{range .Parts}}<td>{{.}}</td>{{end}}</tr>{{end}}</tbody></table></details>
</figure>`))

// barChart draws bars stacked by series.
func barChart(title string, series []string, bars []bar) template.HTML {
	const w, h, left, bottom, top = 480, 220, 40, 24, 10
	d := chartData{ID: "chart-" + hashHex(title)[:8], Title: title, Series: series, W: w, H: h, Rows: bars}
	for _, b := range bars {
		sum := 0
		for _, p := range b.Parts {
			sum += p
		}
		d.Max = max(d.Max, sum)
	}
	scale := niceMax(d.Max)
	plotH := h - bottom - top
	for i := 0; i <= 4; i++ {
		v := scale * i / 4
		d.Ticks = append(d.Ticks, chartTick{Y: h - bottom - plotH*i/4, Label: strconv.Itoa(v)})
	}
	if len(bars) > 0 {
		step := (w - left) / len(bars)
		bw := max(step*7/10, 2)
		for i, b := range bars {
			cb := chartBar{X: left + i*step + (step-bw)/2, W: bw}
			if (len(bars)-1-i)%2 == 0 || len(bars) <= 7 {
				cb.Label = b.Label // every other day, ending with the last: the labels do not overlap
			}
			y := h - bottom
			for s, p := range b.Parts {
				if p == 0 {
					continue
				}
				ph := max(plotH*p/scale, 1)
				y -= ph
				name := ""
				if s < len(series) {
					name = series[s]
				}
				cb.Rects = append(cb.Rects, chartRect{Y: y, H: ph, Series: s, Title: b.Label + ": " + strconv.Itoa(p) + " " + name})
			}
			d.Bars = append(d.Bars, cb)
		}
	}
	var buf bytes.Buffer
	if err := chartTemplate.Execute(&buf, d); err != nil {
		return template.HTML(template.HTMLEscapeString("chart: " + err.Error()))
	}
	return template.HTML(buf.String()) // made by html/template: every label is escaped
}

// niceMax rounds the top of the axis up to 4, 8, 20, 40, 80, 200…: a
// multiple of 4 so that the four grid lines fall on whole numbers.
func niceMax(n int) int {
	if n <= 4 {
		return 4
	}
	for m := 1; ; m *= 10 {
		for _, f := range []int{1, 2, 5} {
			if c := 4 * f * m; c >= n {
				return c
			}
		}
	}
}
