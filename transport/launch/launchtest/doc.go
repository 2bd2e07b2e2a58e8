// Package launchtest is the program the multi-process tests of launch and of
// `hilo run` start as ranks (they re-execute their test binary, which calls
// Run). Each mode exercises one behaviour and reports on standard output.
package launchtest
