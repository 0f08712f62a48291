//go:build !(linux || darwin || freebsd)

package media

import "errors"

// freeSpace is not measured here; the writes themselves report a full disk.
func freeSpace(string) (uint64, error) {
	return 0, errors.New("media: free space is not measured on this system")
}
