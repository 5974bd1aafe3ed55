//go:build !linux

package unet

// totalMemory is the machine's RAM in bytes: unknown (0) off Linux.
func totalMemory() uint64 { return 0 }
