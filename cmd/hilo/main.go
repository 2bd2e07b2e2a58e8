package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // the command could not do its work (I/O, internal error)
	exitUsage = 2 // bad flags or input
)

// A subcommand runs with its own arguments and returns an exit status.
type subcommand struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) int
}

func subcommands() []subcommand {
	return []subcommand{
		{"decomp", "decompose a grid across ranks; report, compare or draw it", cmdDecomp},
		{"run", "start N ranks of a program on this machine", cmdRun},
		{"bench", "measure: pingpong (latency, bandwidth) or halo (exchange time) in spawned ranks", cmdBench},
		{"fdtd", "3D Yee FDTD: bench/fdtd's reference problem in spawned ranks (energy, Mcells/s)", cmdFDTD},
		{"scale", "scaling runs over rank counts and methods (any launcher); -project models up to 32,768 ranks", cmdScale},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: hilo COMMAND [flags]\n\ncommands:\n")
	for _, c := range subcommands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'hilo COMMAND -h' for a command's flags.\n")
}

// run dispatches to a subcommand and returns the process exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if name == "help" && len(args) > 1 {
			return run([]string{args[1], "-h"}, stdout, stderr)
		}
		usage(stdout)
		return exitOK
	}
	for _, c := range subcommands() {
		if c.name == name {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "hilo: unknown command %q (run 'hilo -h' for the list)\n", name)
	return exitUsage
}

// parseArgs parses a subcommand's flags. When parsing ends the command (-h
// asked for the usage, or a flag was wrong and fs has said so), it returns
// the exit status and false.
func parseArgs(fs *flag.FlagSet, args []string) (status int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	return exitOK, true
}
