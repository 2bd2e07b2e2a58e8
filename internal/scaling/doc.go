// Package scaling models and draws how a halo-exchange code scales. It fits
// a latency and a bandwidth per transport (shared memory, TCP) to ping-pong
// measurements ([FitLink]) and a compute cost per cell and per x row to
// 1-rank runs ([FitCompute]); turns a decomposition into the exact per-rank
// work of a step ([FDTDWorkload], [HaloWorkload]: cells and rows to update,
// the messages each rank receives, their bytes and whether they cross a
// node); predicts the time per step as the slowest rank's compute plus
// communication, or, when ranks outnumber cores, all the CPU work spread
// over the cores ([Machine.Predict]); and draws the figures `hilo scale`
// writes ([WritePNG], via gonum/plot). It knows nothing of processes: the
// measured side of a scaling study lives in cmd/hilo.
package scaling
