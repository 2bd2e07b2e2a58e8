package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// hilo decomp -format json gives every rank's boxes, half-open
// [x0,y0,z0,x1,y1,z1], so a script can recount anything it reports.
func Example_decompJSON() {
	var out bytes.Buffer
	code := run([]string{"decomp", "-grid", "8x4x2", "-ranks", "2", "-method", "block", "-format", "json"}, &out, os.Stderr)
	var rep struct {
		Boxes    [][][6]int `json:"boxes"`
		Cells    []int      `json:"cells"`
		CutFaces int        `json:"cut_faces"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("status", code, "boxes", rep.Boxes, "cells", rep.Cells, "cut faces", rep.CutFaces)

	// Bad input is one line on stderr and status 2.
	code = run([]string{"decomp", "-grid", "8x4", "-ranks", "2"}, os.Stdout, os.Stdout)
	fmt.Println("status", code)
	// Output:
	// status 0 boxes [[[0 0 0 4 4 2]] [[4 0 0 8 4 2]]] cells [32 32] cut faces 8
	// hilo decomp: -grid "8x4": want NXxNYxNZ, e.g. 128x128x64
	// status 2
}
