package main

// TestDocs keeps README.md and docs/*.md true to the binary: a reader who
// copies a config block gets a config that `ntpbox check` accepts, and a
// command line that ntpbox knows. The conventions it relies on:
//
//   - a config example is a fenced block tagged ```conf;
//   - a command is a line "$ ntpbox SUBCOMMAND ..." in a fenced block that
//     is untagged or tagged console, sh or shell; the other lines of such
//     a block are output and are not checked.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// readmeMaxLines is the README's budget: it is for the people who use
// the box; the rest belongs in docs/.
const readmeMaxLines = 260

// docBlock is one fenced code block of a Markdown file.
type docBlock struct {
	file  string   // path, as given
	line  int      // 1-based line of the first line inside the fence
	lang  string   // the fence's info string ("conf", "console", "")
	lines []string // the block, its fence's indentation removed
}

func (b docBlock) String() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

// docFiles are the Markdown files the test checks, relative to this
// package: the README and every file in docs/.
func docFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no docs/*.md")
	}
	return append([]string{"../../README.md"}, files...)
}

func readDoc(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// fencedBlocks returns the fenced code blocks of a Markdown file's lines,
// and the lines outside any fence (the others blanked, so that line
// numbers stay).
func fencedBlocks(file string, lines []string) (blocks []docBlock, prose []string) {
	var cur *docBlock
	indent := ""
	for i, l := range lines {
		trimmed := strings.TrimSpace(l)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			indent = l[:len(l)-len(strings.TrimLeft(l, " "))]
			cur = &docBlock{file: file, line: i + 2, lang: strings.TrimSpace(strings.TrimPrefix(trimmed, "```"))}
			prose = append(prose, "")
		case cur != nil && trimmed == "```":
			blocks = append(blocks, *cur)
			cur = nil
			prose = append(prose, "")
		case cur != nil:
			cur.lines = append(cur.lines, strings.TrimPrefix(l, indent))
			prose = append(prose, "")
		default:
			prose = append(prose, l)
		}
	}
	if cur != nil {
		// An unclosed fence: report it as a block, so that it is seen.
		blocks = append(blocks, *cur)
	}
	return blocks, prose
}

func TestDocs(t *testing.T) {
	files := docFiles(t)
	var blocks []docBlock
	prose := map[string][]string{}
	for _, f := range files {
		lines := readDoc(t, f)
		b, p := fencedBlocks(f, lines)
		blocks = append(blocks, b...)
		prose[f] = p
	}

	t.Run("README length", func(t *testing.T) {
		if n := len(readDoc(t, "../../README.md")); n > readmeMaxLines {
			t.Errorf("README.md has %d lines, more than %d: move details to docs/", n, readmeMaxLines)
		}
	})

	t.Run("config blocks", func(t *testing.T) {
		dir := t.TempDir()
		n, inREADME := 0, 0
		for _, b := range blocks {
			if b.lang != "conf" {
				continue
			}
			n++
			if strings.HasSuffix(b.file, "README.md") {
				inREADME++
			}
			name := strings.NewReplacer("../", "", "/", "_").Replace(b.String())
			path := filepath.Join(dir, strings.ReplaceAll(name, ":", "-")+".conf")
			if err := os.WriteFile(path, []byte(strings.Join(b.lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, errOut, code := ntpbox(t, "check", path); code != 0 {
				t.Errorf("%s: the ```conf block fails ntpbox check (exit %d):\n%s\n%s%s", b, code, strings.Join(b.lines, "\n"), out, errOut)
			}
		}
		// The convention must be in use, or this test checks nothing.
		if n < 10 || inREADME < 3 {
			t.Errorf("%d ```conf blocks (%d in README.md): mark the config examples ```conf", n, inREADME)
		}
	})

	t.Run("command blocks", func(t *testing.T) {
		helps := map[string]map[string]bool{} // subcommand: its flags, nil if unknown
		n := 0
		for _, b := range blocks {
			switch b.lang {
			case "", "console", "sh", "shell":
			default:
				continue
			}
			for i, l := range b.lines {
				rest, ok := strings.CutPrefix(l, "$ ntpbox ")
				if !ok {
					continue
				}
				n++
				where := fmt.Sprintf("%s:%d", b.file, b.line+i)
				if err := checkCommand(t, helps, strings.Fields(rest)); err != nil {
					t.Errorf("%s: %q: %v", where, l, err)
				}
			}
		}
		if n < 10 {
			t.Errorf("only %d command lines (\"$ ntpbox ...\" in fenced blocks) found", n)
		}
	})

	t.Run("links", func(t *testing.T) {
		anchors := map[string]map[string]bool{}
		for _, f := range files {
			anchors[filepath.Clean(f)] = headingAnchors(prose[f])
		}
		for _, f := range files {
			for i, l := range prose[f] {
				for _, m := range mdLink.FindAllStringSubmatch(l, -1) {
					if err := checkLink(f, m[1], anchors); err != nil {
						t.Errorf("%s:%d: link %s: %v", f, i+1, m[1], err)
					}
				}
			}
		}
	})
}

// checkCommand checks one documented command line, "SUBCOMMAND ARGS...":
// the subcommand exists (its --help exits 0) and each flag it uses is
// one its --help lists.
func checkCommand(t *testing.T, helps map[string]map[string]bool, args []string) error {
	t.Helper()
	if len(args) == 0 {
		return fmt.Errorf("no subcommand")
	}
	sub := args[0]
	if strings.HasPrefix(sub, "-") {
		// ntpbox --version, ntpbox --help: the top level's own flags.
		if _, _, code := ntpbox(t, sub); code != 0 {
			return fmt.Errorf("ntpbox %s exits %d", sub, code)
		}
		return nil
	}
	flags, seen := helps[sub]
	if !seen {
		out, errOut, code := ntpbox(t, sub, "--help")
		if code == 0 {
			flags = map[string]bool{}
			for _, m := range helpFlag.FindAllStringSubmatch(out+errOut, -1) {
				flags[m[1]] = true
			}
		}
		helps[sub] = flags
	}
	if flags == nil {
		return fmt.Errorf("no subcommand %q (ntpbox %s --help fails)", sub, sub)
	}
	for _, a := range args[1:] {
		if a == "-" || a == "--" || !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !flags[name] {
			return fmt.Errorf("ntpbox %s --help lists no flag %q", sub, a)
		}
	}
	return nil
}

// helpFlag is a flag in the flag package's usage output ("  -f file").
var helpFlag = regexp.MustCompile(`(?m)^\s+--?([A-Za-z0-9][\w-]*)`)

// mdLink is an inline Markdown link's target.
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// checkLink checks a relative link from file: the target exists, and a
// #fragment names a heading of the Markdown file it points to.
func checkLink(file, target string, anchors map[string]map[string]bool) error {
	if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
		return nil
	}
	path, frag, _ := strings.Cut(target, "#")
	dest := filepath.Clean(file)
	if path != "" {
		dest = filepath.Join(filepath.Dir(file), path)
		if _, err := os.Stat(dest); err != nil {
			return err
		}
	}
	if frag == "" || !strings.HasSuffix(dest, ".md") {
		return nil
	}
	a, ok := anchors[dest]
	if !ok {
		b, err := os.ReadFile(dest)
		if err != nil {
			return err
		}
		_, prose := fencedBlocks(dest, strings.Split(string(b), "\n"))
		a = headingAnchors(prose)
		anchors[dest] = a
	}
	if !a[frag] {
		return fmt.Errorf("%s has no heading with the anchor #%s", dest, frag)
	}
	return nil
}

// headingAnchors are the anchors GitHub gives a file's headings: lower
// case, letters, digits, '-' and '_' kept, spaces made '-', the rest
// dropped; a repeated anchor gets -1, -2...
func headingAnchors(prose []string) map[string]bool {
	out := map[string]bool{}
	count := map[string]int{}
	for _, l := range prose {
		text, ok := strings.CutPrefix(strings.TrimLeft(l, "#"), " ")
		if !strings.HasPrefix(l, "#") || !ok {
			continue
		}
		var sb strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(text)) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				sb.WriteRune(r)
			case r == ' ':
				sb.WriteRune('-')
			}
		}
		a := sb.String()
		if n := count[a]; n > 0 {
			out[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			out[a] = true
		}
		count[a]++
	}
	return out
}
