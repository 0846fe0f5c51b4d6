package appliance

import "testing"

func bootSector(fat32 bool, label string) []byte {
	b := make([]byte, 512)
	b[11], b[12] = 0x00, 0x02 // 512 bytes per sector
	sig, at, fstype := 38, 43, "FAT16   "
	if fat32 {
		sig, at, fstype = 66, 71, "FAT32   "
	} else {
		b[22] = 0x20 // sectors per FAT
	}
	b[sig] = 0x29
	copy(b[at:at+11], label+"           ")
	copy(b[at+11:], fstype)
	b[510], b[511] = 0x55, 0xaa
	return b
}

func TestFATLabel(t *testing.T) {
	noSig := bootSector(true, "NTPBOX")
	noSig[511] = 0
	ext4ish := make([]byte, 512)
	mbr := bootSector(false, "NTPBOX")
	copy(mbr[54:], "XXX")
	tests := []struct {
		name   string
		sector []byte
		label  string
		ok     bool
	}{
		{"FAT32", bootSector(true, "NTPBOX"), "NTPBOX", true},
		{"FAT16", bootSector(false, "NTPBOX"), "NTPBOX", true},
		{"FAT16 other label", bootSector(false, "NO NAME"), "NO NAME", true},
		{"no boot signature", noSig, "", false},
		{"zeros", ext4ish, "", false},
		{"no FAT type string (an MBR)", mbr, "", false},
		{"short", []byte{1, 2, 3}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			label, ok := FATLabel(tt.sector)
			if label != tt.label || ok != tt.ok {
				t.Errorf("FATLabel = %q, %v; want %q, %v", label, ok, tt.label, tt.ok)
			}
		})
	}
}
