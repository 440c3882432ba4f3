//go:build unix

package discovery

import "syscall"

// openNonblock makes opening a named pipe return at once instead of
// waiting for a writer; reading a regular file is not affected.
const openNonblock = syscall.O_NONBLOCK
