package main

import (
	"bytes"
	"strings"
	"testing"
)

// runCmd runs the command in-process and returns its exit status and output.
func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestDispatch(t *testing.T) {
	code, out, errOut := runCmd(t)
	if code != exitUsage || !strings.Contains(errOut, "decomp") || out != "" {
		t.Errorf("no arguments: status %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = runCmd(t, "-h")
	if code != exitOK || !strings.Contains(out, "usage: hilo COMMAND") {
		t.Errorf("-h: status %d, stdout %q", code, out)
	}
	code, _, errOut = runCmd(t, "frobnicate")
	if code != exitUsage || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, `"frobnicate"`) {
		t.Errorf("unknown command: status %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCmd(t, "help", "decomp")
	if code != exitOK || !strings.Contains(errOut, "-ranks-per-node") {
		t.Errorf("help decomp: status %d, stderr %q", code, errOut)
	}
}
