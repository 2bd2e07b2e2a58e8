module github.com/hilo-hpc/hilo

go 1.26.8

require (
	github.com/google/go-cmp v0.7.0
	golang.org/x/image v0.30.0
	golang.org/x/sys v0.49.0
)
