//go:build !((linux || darwin) && (amd64 || arm64))

package blas

import (
	"fmt"
	"runtime"
)

// open reports that libraries cannot be loaded here: purego's dlopen and
// float-argument calls are only wired up for the platforms in dlopen.go.
func open(path string) (*library, error) {
	return nil, fmt.Errorf("%s: loading a BLAS library is not supported on %s/%s", path, runtime.GOOS, runtime.GOARCH)
}
