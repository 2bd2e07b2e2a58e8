// Command hilo is hilo's one command. Its subcommands are:
//
//	hilo decomp   decompose a grid across ranks; report, compare or draw it
//	hilo run      start N ranks of a program on this machine
//	hilo bench    pingpong (latency, bandwidth) or halo (exchange time) in spawned ranks
//	hilo fdtd     the FDTD reference problem on P ranks it spawns
//
// (scale is to come). Each subcommand takes its own
// flags; "hilo SUBCOMMAND -h" lists them. Exit status is 0 on success, 2 for
// bad input (a usage error or input decomp rejects) and 1 for any other
// failure, such as an output file that cannot be written.
package main
