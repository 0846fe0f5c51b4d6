package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestREADMEConfigBlocks: every config example in the READMEs and docs/ (a fenced
// block marked ```conf) is a config that ntpbox check accepts, so that a
// reader who copies one gets a box that boots with it.
func TestREADMEConfigBlocks(t *testing.T) {
	n := 0
	docs, _ := filepath.Glob("../docs/*.md")
	for _, file := range append([]string{"../README.md", "../appliance/README.md"}, docs...) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var block []string
		in, start := false, 0
		for i, line := range strings.Split(string(b), "\n") {
			switch {
			case !in && strings.TrimSpace(line) == "```conf":
				in, start, block = true, i+2, nil
			case in && strings.TrimSpace(line) == "```":
				in = false
				n++
				text := strings.Join(block, "\n") + "\n"
				name := file + ":" + strconv.Itoa(start)
				if _, _, err := ParseBytes(name, []byte(text)); err != nil {
					t.Errorf("the config block at %s does not pass ntpbox check:\n%s\n%v", name, text, err)
				}
			case in:
				block = append(block, line)
			}
		}
	}
	if n < 5 {
		t.Errorf("only %d ```conf blocks in the READMEs: the config examples must be marked ```conf to be checked", n)
	}
}
