//go:build race

package shm

// raceEnabled shortens the longest tests under the race detector, which
// makes them 5-10 times slower, to keep the package under a minute.
const raceEnabled = true
