package browser

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// conn is the DevTools protocol on Chromium's pipe: JSON messages, each
// ended by a NUL byte. It is used from one goroutine: a call reads
// messages until its reply, handing the events on the way to onEvent.
type conn struct {
	w       io.Writer
	r       *bufio.Reader
	next    int
	onEvent func(method string, params json.RawMessage)
}

type message struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

func newConn(w io.Writer, r io.Reader) *conn {
	return &conn{w: w, r: bufio.NewReaderSize(r, 1<<20), onEvent: func(string, json.RawMessage) {}}
}

// read returns the next message.
func (c *conn) read() (*message, error) {
	b, err := c.r.ReadBytes(0)
	if err != nil {
		return nil, fmt.Errorf("read devtools pipe: %w", err)
	}
	var m message
	if err := json.Unmarshal(b[:len(b)-1], &m); err != nil {
		return nil, fmt.Errorf("devtools message %.200q: %w", b, err)
	}
	return &m, nil
}

// call sends method with params to session ("" for the browser) and
// decodes its result into result (unless nil).
func (c *conn) call(session, method string, params, result any) error {
	c.next++
	id := c.next
	p, err := json.Marshal(params)
	if err != nil {
		return err
	}
	if params == nil {
		p = []byte("{}")
	}
	b, err := json.Marshal(message{ID: id, Method: method, Params: p, SessionID: session})
	if err != nil {
		return err
	}
	if _, err := c.w.Write(append(b, 0)); err != nil {
		return fmt.Errorf("%s: write devtools pipe: %w", method, err)
	}
	for {
		m, err := c.read()
		if err != nil {
			return fmt.Errorf("%s: %w", method, err)
		}
		if m.ID == 0 {
			c.onEvent(m.Method, m.Params)
			continue
		}
		if m.ID != id {
			continue
		}
		if m.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, m.Error.Message, m.Error.Code)
		}
		if result == nil {
			return nil
		}
		return json.Unmarshal(m.Result, result)
	}
}

// waitEvent reads messages until the event method.
func (c *conn) waitEvent(method string) error {
	for {
		m, err := c.read()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", method, err)
		}
		if m.ID != 0 {
			continue
		}
		c.onEvent(m.Method, m.Params)
		if m.Method == method {
			return nil
		}
	}
}

// load opens a tab on the browser of c, loads opts.URL and gathers the
// Result.
func load(c *conn, opts Options) (*Result, error) {
	r := &Result{Screenshots: map[int][]byte{}}
	failed := map[string]string{} // request ID → URL
	c.onEvent = func(method string, params json.RawMessage) { r.event(method, params, failed) }

	var target struct{ TargetID string }
	if err := c.call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		return nil, err
	}
	var attached struct{ SessionID string }
	if err := c.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached); err != nil {
		return nil, err
	}
	s := attached.SessionID
	for _, domain := range []string{"Page", "Network", "Runtime", "Log"} {
		if err := c.call(s, domain+".enable", nil, nil); err != nil {
			return nil, err
		}
	}
	if err := c.call(s, "Emulation.setDeviceMetricsOverride", metrics(opts.Width, opts.Height), nil); err != nil {
		return nil, err
	}
	var nav struct{ ErrorText string }
	if err := c.call(s, "Page.navigate", map[string]any{"url": opts.URL}, &nav); err != nil {
		return nil, err
	}
	if nav.ErrorText != "" {
		return nil, fmt.Errorf("navigate: %s", nav.ErrorText)
	}
	if err := c.waitEvent("Page.loadEventFired"); err != nil {
		return nil, err
	}

	var err error
	if r.DOM, err = evalString(c, s, "document.documentElement.outerHTML"); err != nil {
		return nil, err
	}
	t, err := evalString(c, s, `JSON.stringify(performance.getEntriesByType("navigation")[0])`)
	if err != nil {
		return nil, err
	}
	var nt struct {
		ResponseStart, ResponseEnd, DOMComplete, LoadEventEnd, TransferSize float64
	}
	if err := json.Unmarshal([]byte(t), &nt); err != nil {
		return nil, fmt.Errorf("navigation timing %q: %w", t, err)
	}
	ms := func(v float64) time.Duration { return time.Duration(math.Round(v * 1e6)) }
	r.Timing = Timing{ms(nt.ResponseStart), ms(nt.ResponseEnd), ms(nt.DOMComplete), ms(nt.LoadEventEnd), int(nt.TransferSize)}

	for _, w := range opts.Screenshots {
		if err := c.call(s, "Emulation.setDeviceMetricsOverride", metrics(w, opts.Height), nil); err != nil {
			return nil, err
		}
		var shot struct{ Data string }
		if err := c.call(s, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot); err != nil {
			return nil, err
		}
		png, err := base64.StdEncoding.DecodeString(shot.Data)
		if err != nil {
			return nil, fmt.Errorf("screenshot: %w", err)
		}
		r.Screenshots[w] = png
	}
	// Anything the screenshots' layouts made the page request or say.
	if err := c.call(s, "Runtime.evaluate", map[string]any{"expression": "0"}, nil); err != nil {
		return nil, err
	}
	return r, nil
}

func metrics(w, h int) map[string]any {
	return map[string]any{"width": w, "height": h, "deviceScaleFactor": 1, "mobile": w < 600}
}

// evalString evaluates expr, which yields a string, in the page.
func evalString(c *conn, session, expr string) (string, error) {
	var res struct {
		Result struct {
			Type  string
			Value json.RawMessage
		}
		ExceptionDetails *struct{ Text string }
	}
	if err := c.call(session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res); err != nil {
		return "", err
	}
	if res.ExceptionDetails != nil {
		return "", fmt.Errorf("evaluate %s: %s", expr, res.ExceptionDetails.Text)
	}
	var v string
	if res.Result.Type != "string" || json.Unmarshal(res.Result.Value, &v) != nil {
		return "", errors.New("evaluate " + expr + ": not a string")
	}
	return v, nil
}

// event records what an event says about the page.
func (r *Result) event(method string, params json.RawMessage, urls map[string]string) {
	switch method {
	case "Network.requestWillBeSent":
		var e struct {
			RequestID string
			Request   struct{ URL string }
		}
		if json.Unmarshal(params, &e) == nil {
			urls[e.RequestID] = e.Request.URL
			r.Requests = append(r.Requests, e.Request.URL)
		}
	case "Network.responseReceived":
		var e struct {
			Response struct {
				URL        string
				Status     int
				StatusText string
			}
		}
		if json.Unmarshal(params, &e) == nil && e.Response.Status >= 400 {
			r.Failed = append(r.Failed, fmt.Sprintf("%s: %d %s", e.Response.URL, e.Response.Status, e.Response.StatusText))
		}
	case "Network.loadingFailed":
		var e struct {
			RequestID, ErrorText, BlockedReason string
			Canceled                            bool
		}
		if json.Unmarshal(params, &e) == nil {
			r.Failed = append(r.Failed, fmt.Sprintf("%s: %s%s", urls[e.RequestID], e.ErrorText, e.BlockedReason))
		}
	case "Runtime.consoleAPICalled":
		var e struct {
			Type string
			Args []struct {
				Value       any
				Description string
			}
		}
		if json.Unmarshal(params, &e) == nil && (e.Type == "error" || e.Type == "warning" || e.Type == "assert") {
			msg := e.Type + ":"
			for _, a := range e.Args {
				msg += fmt.Sprintf(" %v%s", a.Value, a.Description)
			}
			r.Console = append(r.Console, msg)
		}
	case "Runtime.exceptionThrown":
		var e struct {
			ExceptionDetails struct {
				Text      string
				Exception struct{ Description string }
			}
		}
		if json.Unmarshal(params, &e) == nil {
			r.Console = append(r.Console, "exception: "+e.ExceptionDetails.Text+" "+e.ExceptionDetails.Exception.Description)
		}
	case "Log.entryAdded":
		var e struct {
			Entry struct{ Source, Level, Text, URL string }
		}
		if json.Unmarshal(params, &e) == nil && (e.Entry.Level == "error" || e.Entry.Level == "warning") {
			r.Console = append(r.Console, fmt.Sprintf("%s %s: %s %s", e.Entry.Source, e.Entry.Level, e.Entry.Text, e.Entry.URL))
		}
	}
}
