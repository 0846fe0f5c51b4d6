// Package layout holds no code: its test checks the shape of the tree,
// which package may import which, so that the layout stays the one
// docs/layout.md describes.
package layout
