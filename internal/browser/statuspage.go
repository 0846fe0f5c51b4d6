package browser

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/html"
)

// StatusPageIDs are the elements of ntpbox's status page (package web)
// that its browser tests look for: the sources table and the three plots.
var StatusPageIDs = map[string]string{
	"sources":           "table",
	"plot-offset":       "svg",
	"plot-frequency":    "svg",
	"plot-rootdistance": "svg",
}

// CheckStatusPage says what is wrong with r, the load of ntpbox's status
// page at url: an element of StatusPageIDs missing, a script, a request
// other than the page, a failed request, or a word on the console.
func CheckStatusPage(r *Result, url string) error {
	var errs []error
	doc, err := html.Parse(strings.NewReader(r.DOM))
	if err != nil {
		return fmt.Errorf("parse the DOM: %w", err)
	}
	found := map[string]string{}
	scripts := 0
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		if n.Data == "script" {
			scripts++
		}
		for _, a := range n.Attr {
			if a.Key == "id" {
				if _, ok := StatusPageIDs[a.Val]; ok {
					found[a.Val] = n.Data
				}
			}
		}
	}
	for id, tag := range StatusPageIDs {
		if found[id] != tag {
			errs = append(errs, fmt.Errorf("no <%s id=%q> in the page", tag, id))
		}
	}
	if scripts != 0 {
		errs = append(errs, fmt.Errorf("%d <script> elements in the page", scripts))
	}
	for _, u := range r.Requests {
		if u != url {
			errs = append(errs, fmt.Errorf("the page requested %s", u))
		}
	}
	for _, f := range r.Failed {
		errs = append(errs, fmt.Errorf("failed request: %s", f))
	}
	for _, c := range r.Console {
		errs = append(errs, fmt.Errorf("console: %s", c))
	}
	return errors.Join(errs...)
}
