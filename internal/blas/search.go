package blas

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
)

// candidate is where a library known by name is usually installed.
type candidate struct {
	names []string // file names, most specific (versioned soname) first
	dirs  []string // directories tried after the dynamic loader's own search ("")
}

// multiarch is the Debian/Ubuntu library directory of this architecture.
func multiarch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "/usr/lib/x86_64-linux-gnu"
	case "arm64":
		return "/usr/lib/aarch64-linux-gnu"
	}
	return "/usr/lib"
}

// candidates returns where to look for the library with the given id. The
// directories cover Debian/Ubuntu (whose packages install under
// alternatives-managed subdirectories that are not always on the loader's
// path), Fedora, source installs, Intel's oneAPI installer and Homebrew.
func candidates(id string) candidate {
	ma := multiarch()
	if runtime.GOOS == "darwin" {
		switch id {
		case OpenBLAS:
			return candidate{[]string{"libopenblas.0.dylib", "libopenblas.dylib"},
				[]string{"/opt/homebrew/opt/openblas/lib", "/usr/local/opt/openblas/lib"}}
		case MKL:
			return candidate{[]string{"libmkl_rt.2.dylib", "libmkl_rt.dylib"},
				[]string{"/opt/intel/oneapi/mkl/latest/lib"}}
		case BLIS:
			return candidate{[]string{"libblis.4.dylib", "libblis.dylib"},
				[]string{"/opt/homebrew/opt/blis/lib", "/usr/local/opt/blis/lib"}}
		}
		return candidate{}
	}
	switch id {
	case OpenBLAS:
		return candidate{[]string{"libopenblas.so.0", "libopenblas.so"},
			[]string{ma, ma + "/openblas-pthread", ma + "/openblas-openmp", "/usr/lib64", "/usr/local/lib", "/opt/OpenBLAS/lib"}}
	case MKL:
		return candidate{[]string{"libmkl_rt.so.2", "libmkl_rt.so"},
			[]string{ma, "/opt/intel/oneapi/mkl/latest/lib", "/opt/intel/oneapi/mkl/latest/lib/intel64", "/usr/lib64"}}
	case BLIS:
		return candidate{[]string{"libblis.so.4", "libblis.so"},
			[]string{ma, ma + "/blis-pthread", ma + "/blis-openmp", "/usr/lib64", "/usr/local/lib"}}
	}
	return candidate{}
}

// openKnown loads the library with the given id from its usual places: each
// name first through the dynamic loader's search (LD_LIBRARY_PATH, the
// ld.so cache), then in each known directory.
func openKnown(id string) (*library, error) {
	c := candidates(id)
	if len(c.names) == 0 {
		return nil, errors.New(id + ": no known file names on " + runtime.GOOS)
	}
	var first error // the loader's own search, the most telling failure
	for _, name := range c.names {
		for _, dir := range append([]string{""}, c.dirs...) {
			path := name
			if dir != "" {
				path = filepath.Join(dir, name)
			}
			l, err := open(path)
			if err == nil {
				if l.id == CBLAS { // found by a known name, but no telltale symbol
					l.id = id
				}
				return l, nil
			}
			if first == nil {
				first = err
			}
		}
	}
	return nil, fmt.Errorf("%s not found: tried %s on the loader's search path and in %s: %w",
		id, strings.Join(c.names, " and "), strings.Join(c.dirs, ", "), first)
}

// idFromName guesses the library from its file name, for libraries that
// export cblas_* but none of the thread-setting symbols identify tells apart.
func idFromName(path string) string {
	base := strings.ToLower(filepath.Base(path))
	switch {
	case strings.Contains(base, "openblas"):
		return OpenBLAS
	case strings.Contains(base, "mkl"):
		return MKL
	case strings.Contains(base, "blis"):
		return BLIS
	}
	return CBLAS
}
