//go:build !unix

package discovery

// openNonblock is 0 where the system has no O_NONBLOCK.
const openNonblock = 0
