package qemu

import (
	"fmt"
	"strings"

	"github.com/ntpbox/ntpbox/internal/persist"
)

// ReadPersisted returns what persist.Read returns in the guest for the
// file: the newest intact of its two copies on FAT (Name and Name.2).
func (f DiskFile) ReadPersisted() ([]byte, error) {
	var copies [2][]byte
	var errs []string
	for i, name := range []string{f.Name, f.Name + persist.SecondSuffix} {
		b, err := DiskFile{Disk: f.Disk, Name: name}.Read()
		switch {
		case err == nil:
			copies[i] = b
		case strings.Contains(err.Error(), "not found"):
			errs = append(errs, name+": not found")
		default:
			return nil, err
		}
	}
	b, ok := persist.Newest(copies[0], copies[1])
	if !ok {
		return nil, fmt.Errorf("%s on %s: no intact copy (%s)", f.Name, f.Disk, strings.Join(errs, "; "))
	}
	return b, nil
}
