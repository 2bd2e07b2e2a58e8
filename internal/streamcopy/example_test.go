package streamcopy_test

import (
	"fmt"

	"github.com/hilo-hpc/hilo/internal/streamcopy"
)

// A producer fills a buffer that another process will read, then fences
// before the store that tells the reader the buffer is ready.
func Example() {
	msg := make([]byte, 4096)
	for i := range msg {
		msg[i] = byte(i)
	}
	slot := make([]byte, 4096) // in practice: a slot in shared memory
	n := streamcopy.Copy(slot, msg)
	streamcopy.Fence()
	// ... now publish: an atomic store of the slot's length, say.
	fmt.Println(n, slot[4095])
	// Output: 4096 255
}
