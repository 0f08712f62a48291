//go:build linux || darwin || freebsd

package media

import "syscall"

// freeSpace returns the bytes an unprivileged writer may still use on the
// filesystem of dir.
func freeSpace(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}
