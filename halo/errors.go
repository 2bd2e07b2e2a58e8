package halo

import "errors"

var (
	// ErrInvalid is wrapped by errors about arguments: fields from different
	// decompositions or ranks, a Comm of the wrong size, bad options.
	ErrInvalid = errors.New("halo: invalid argument")
	// ErrState is wrapped when Start, Wait or Exchange is called out of
	// order (Start twice, Wait without Start) or on a plan that failed.
	ErrState = errors.New("halo: call out of order")
	// ErrMismatch is wrapped when a peer's message does not match this
	// rank's plan (length, layout hash or sequence): the two ranks built
	// their plans from different fields, specs or decompositions.
	ErrMismatch = errors.New("halo: peer's message does not match the plan")
	// ErrVerify is wrapped by Verify's error when a ghost cell holds a wrong
	// value after an exchange.
	ErrVerify = errors.New("halo: verification failed")
)
