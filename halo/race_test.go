//go:build race

package halo_test

// raceEnabled thins the verify matrices: the race detector makes each case
// several times slower.
const raceEnabled = true
