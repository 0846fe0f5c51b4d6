package config

// Warning is a non-fatal finding, e.g. a chrony directive ntpbox does not
// implement.
type Warning struct {
	Origin    Origin
	Directive string
	Msg       string
}

// String returns "file:line: directive: msg".
func (w Warning) String() string {
	return w.Origin.String() + ": " + w.Directive + ": " + w.Msg
}

// Error is one bad line. Msg says what was expected and what was found:
//
//	/etc/ntpbox.conf:7: allow: expected an address, a subnet or "all", got "10.0.0.0/33"
//
// Parse returns all bad lines of a file as errors.Join of *Error values, so
// errors.As finds the first one.
type Error struct {
	Origin    Origin
	Directive string
	Msg       string

	err error // the cause, for errors.Is (e.g. fs.ErrNotExist of an include)
}

// Error returns "file:line: directive: msg".
func (e *Error) Error() string {
	return e.Origin.String() + ": " + e.Directive + ": " + e.Msg
}

// Unwrap returns the cause of the error, if any (e.g. the error reading an
// included file).
func (e *Error) Unwrap() error {
	return e.err
}
