//go:build !race

package halo_test

const raceEnabled = false
