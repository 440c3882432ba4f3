//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package discovery

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFileNotRegularFIFOAndDevice(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "backends.json")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	for path, kind := range map[string]string{
		fifo:       "a named pipe (FIFO)", // opening it to read would wait for a writer
		os.DevNull: "a character device",  // reading it would give nothing, forever
	} {
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		s, err := NewFile(File{Path: path})
		require.NoError(t, err)
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = s.Next(c)
		cancel()
		require.ErrorIs(t, err, ErrNotRegularFile, path)
		var fe *FileError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, path, fe.Path)
		assert.Contains(t, fe.Problem, kind)
		assert.Contains(t, err.Error(), "not a regular file")
	}
}
