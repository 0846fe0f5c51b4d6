package initramfs

import (
	"bytes"
	"errors"
	"fmt"

	"os/exec"
)

// xzMagic starts an XZ stream.
var xzMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}

// Vmlinux extracts the uncompressed kernel ELF from an XZ-compressed
// bzImage (Debian's vmlinuz), as the kernel's scripts/extract-vmlinux
// does: it tries each XZ stream in the image until one unpacks to an ELF.
// It runs xz(1) (xz-utils): the kernel's stream uses the x86 BCJ filter,
// which Go's XZ packages do not implement.
// QEMU boots that ELF through PVH without the decompression that takes
// seconds under TCG.
func Vmlinux(bzImage []byte) ([]byte, error) {
	var lastErr error = errors.New("no XZ stream")
	for off := 0; ; {
		i := bytes.Index(bzImage[off:], xzMagic)
		if i < 0 {
			return nil, fmt.Errorf("extract vmlinux: %w", lastErr)
		}
		off += i
		out, err := unxz(bzImage[off:])
		if err == nil && bytes.HasPrefix(out, []byte("\x7fELF")) {
			return out, nil
		}
		if err == nil {
			err = errors.New("the XZ stream holds no ELF")
		}
		lastErr = err
		off++
	}
}

func unxz(b []byte) ([]byte, error) {
	var out, errOut bytes.Buffer
	cmd := exec.Command("xz", "-dc", "--single-stream")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(b), &out, &errOut
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("xz -d: %v: %s", err, bytes.TrimSpace(errOut.Bytes()))
	}
	return out.Bytes(), nil
}
