package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"

	"gonum.org/v1/plot/vg"

	"github.com/hilo-hpc/hilo/internal/scaling"
)

// csvOf writes rows (structs with json tags) as CSV with the tags as the
// header.
func csvOf[T any](rows []T) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	t := reflect.TypeFor[T]()
	var head []string
	for i := range t.NumField() {
		name, _, _ := cutTag(t.Field(i).Tag.Get("json"))
		head = append(head, name)
	}
	if err := w.Write(head); err != nil {
		return nil, err
	}
	for _, r := range rows {
		v := reflect.ValueOf(r)
		rec := make([]string, 0, len(head))
		for i := range t.NumField() {
			f := v.Field(i)
			switch f.Kind() {
			case reflect.Float64:
				rec = append(rec, strconv.FormatFloat(f.Float(), 'g', 6, 64))
			case reflect.Int, reflect.Int64:
				rec = append(rec, strconv.FormatInt(f.Int(), 10))
			default:
				rec = append(rec, fmt.Sprint(f.Interface()))
			}
		}
		if err := w.Write(rec); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

func cutTag(tag string) (name, rest string, ok bool) {
	for i := range len(tag) {
		if tag[i] == ',' {
			return tag[:i], tag[i+1:], true
		}
	}
	return tag, "", false
}

// methodsOf lists the methods of rows in order of appearance.
func methodsOf[T any](rows []T, method func(T) string) []string {
	var out []string
	for _, r := range rows {
		if m := method(r); !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// writeScaleOutputs writes scale.csv, scale.json, time.png and bytes.png.
func writeScaleOutputs(dir string, rows []scaleRow) error {
	data, err := csvOf(rows)
	if err != nil {
		return err
	}
	if err := writeFile(dir, "scale.csv", data); err != nil {
		return err
	}
	if data, err = json.MarshalIndent(rows, "", "  "); err != nil {
		return err
	}
	if err := writeFile(dir, "scale.json", append(data, '\n')); err != nil {
		return err
	}
	var timeS, effS, bytesS []scaling.Series
	var ranks []float64
	for _, r := range rows {
		if !slices.Contains(ranks, float64(r.Ranks)) {
			ranks = append(ranks, float64(r.Ranks))
		}
	}
	slices.Sort(ranks)
	model := false
	for i, m := range methodsOf(rows, func(r scaleRow) string { return r.Method }) {
		var t, e, b scaling.Series
		t.Name, e.Name, b.Name = m, m, m
		t.Color, e.Color, b.Color = i+1, i+1, i+1
		b.Points = true
		mod := scaling.Series{Name: "model (dashed)", Dashed: true, Color: i + 1, NoLegend: model}
		for _, r := range rows {
			if r.Method != m {
				continue
			}
			p := float64(r.Ranks)
			t.X, t.Y = append(t.X, p), append(t.Y, r.StepUS/1e3)
			e.X, e.Y = append(e.X, p), append(e.Y, r.Efficiency)
			b.X, b.Y = append(b.X, float64(r.CutFaces)), append(b.Y, float64(r.BytesIntra+r.BytesInter)/1e3)
			if r.ModelUS > 0 {
				model = true
				mod.X, mod.Y = append(mod.X, p), append(mod.Y, r.ModelUS/1e3)
			}
		}
		timeS, effS, bytesS = append(timeS, t), append(effS, e), append(bytesS, b)
		if len(mod.X) > 0 {
			timeS = append(timeS, mod)
		}
	}
	w := rows[0].Workload
	title := fmt.Sprintf("%s, %s (launcher %s)", w, rows[0].Grid, rows[0].Launcher)
	var buf bytes.Buffer
	err = scaling.WritePNG(&buf, []scaling.Panel{
		{Title: "time per step: " + title, XLabel: "ranks", YLabel: "ms per step (slowest rank, median)", LogX: true, LogY: true, Series: timeS, XTicks: ranks},
		{Title: "efficiency against the smallest run", XLabel: "ranks", YLabel: "efficiency", LogX: true, Series: effS, XTicks: ranks},
	}, 5*vg.Inch, 3.6*vg.Inch)
	if err != nil {
		return err
	}
	if err := writeFile(dir, "time.png", buf.Bytes()); err != nil {
		return err
	}
	// The reference line: bytes per cut face (the fdtd solver: 4 float64;
	// halo: fields x 2 directions x 8 B), through the origin.
	maxCut := 0.0
	for _, r := range rows {
		maxCut = max(maxCut, float64(r.CutFaces))
	}
	perFace := 0.0
	for _, r := range rows {
		if r.CutFaces > 0 {
			perFace = float64(r.PredBytes) / float64(r.CutFaces)
			break
		}
	}
	ref := scaling.Series{Name: fmt.Sprintf("prediction: %.0f B per cut face", perFace), Dashed: true,
		X: []float64{0, maxCut}, Y: []float64{0, perFace * maxCut / 1e3}}
	buf.Reset()
	err = scaling.WritePNG(&buf, []scaling.Panel{{Title: "halo bytes per step against cut faces: " + title,
		XLabel: "cut faces (decomposition)", YLabel: "kB per step, all ranks (measured)", Series: append([]scaling.Series{ref}, bytesS...)}},
		6*vg.Inch, 4*vg.Inch)
	if err != nil {
		return err
	}
	return writeFile(dir, "bytes.png", buf.Bytes())
}
