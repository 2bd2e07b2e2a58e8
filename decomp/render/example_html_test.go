package render_test

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/hilo-hpc/hilo/decomp"
	"github.com/hilo-hpc/hilo/decomp/render"
)

// WriteHTML writes one self-contained page; save it as a .html file and open
// it in a browser to turn the decomposition around, pick ranks and sweep a
// slice through it.
func ExampleWriteHTML() {
	g := decomp.Grid{Dims: [3]int{32, 32, 32}}
	d, err := decomp.Decompose(g, 16, decomp.Options{Method: decomp.MethodBlock})
	if err != nil {
		fmt.Println(err)
		return
	}
	halo := decomp.UniformHalo(1, decomp.Corners)
	m, err := d.Metrics(halo, 1, 8)
	if err != nil {
		fmt.Println(err)
		return
	}
	var page bytes.Buffer
	if err := render.WriteHTML(&page, d, m, render.HTMLOptions{Halo: halo}); err != nil {
		fmt.Println(err)
		return
	}
	s := page.String()
	fmt.Println(strings.HasPrefix(s, "<!DOCTYPE html>"), strings.Contains(s, "<title>grid 32x32x32, 16 ranks, method block</title>"))
	fmt.Println("fetches nothing:", !strings.Contains(s, "http://") && !strings.Contains(s, "https://"))
	// Output:
	// true true
	// fetches nothing: true
}
