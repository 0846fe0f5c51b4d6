package persist

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/ntpbox/ntpbox/internal/atomicfile"
)

// On the appliance the services run as users that may not write the
// persistent partition: it is also the boot partition (kernel, initramfs,
// boot loader, the admin's config), and a service taken over from the
// LAN must not be able to change what boots next (issue 11). A service
// asks init instead, over a socket that init hands it: [UseRemote] in
// the service makes [Read], [Write], [Remove] and [SetAside] go over it,
// and [Serve] in init does them, as root, for the paths the service may
// touch, and nothing else. A Write returns once init has the file on
// disk, so a DHCP ACK still leaves only after its lease is stored.
//
// The protocol is one request at a time, each a header and its bytes:
//
//	request: op (1 byte: R, W, D, A), path length (2, big endian), data length (4), path, data
//	reply:   status (1 byte: 0 ok, 1 error, 2 not found), length (4), data or error message
//
// A path is at most [MaxRemotePath] bytes and the data at most
// [MaxRemoteData]; Serve refuses anything larger before reading it.

// Limits of a request to [Serve].
const (
	MaxRemotePath = 1024
	MaxRemoteData = 32 << 20 // a full /16 DHCP pool's lease file is about 13 MB
)

const (
	opRead   = 'R'
	opWrite  = 'W'
	opRemove = 'D'
	opAside  = 'A'

	statusOK       = 0
	statusError    = 1
	statusNotFound = 2
)

var remote atomic.Pointer[remoteClient]

type remoteClient struct {
	mu sync.Mutex
	rw io.ReadWriter
}

// UseRemote makes this process's Read, Write, Remove and SetAside go
// through rw, a connection to init's [Serve] (the appliance's services
// get it as an inherited socket); nil makes them local again.
func UseRemote(rw io.ReadWriter) {
	if rw == nil {
		remote.Store(nil)
		return
	}
	remote.Store(&remoteClient{rw: rw})
}

func (c *remoteClient) do(op byte, path string, data []byte) ([]byte, error) {
	if len(path) > MaxRemotePath || len(data) > MaxRemoteData {
		return nil, fmt.Errorf("%s: %d bytes is more than init stores for a service (%d)", path, len(data), MaxRemoteData)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	req := make([]byte, 7, 7+len(path)+len(data))
	req[0] = op
	binary.BigEndian.PutUint16(req[1:], uint16(len(path)))
	binary.BigEndian.PutUint32(req[3:], uint32(len(data)))
	req = append(append(req, path...), data...)
	if _, err := c.rw.Write(req); err != nil {
		return nil, fmt.Errorf("%s: asking init: %w", path, err)
	}
	var hdr [5]byte
	if _, err := io.ReadFull(c.rw, hdr[:]); err != nil {
		return nil, fmt.Errorf("%s: init's answer: %w", path, err)
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > MaxRemoteData {
		return nil, fmt.Errorf("%s: init's answer declares %d bytes", path, n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.rw, body); err != nil {
		return nil, fmt.Errorf("%s: init's answer: %w", path, err)
	}
	switch hdr[0] {
	case statusOK:
		return body, nil
	case statusNotFound:
		return nil, &fs.PathError{Op: "read", Path: path, Err: fs.ErrNotExist}
	default:
		return nil, fmt.Errorf("init: %s", body)
	}
}

// SetAside keeps data, a state file's contents that do not parse, in a
// free name beside path (path.corrupt, or path.corrupt.N if that is
// taken), as written, and removes path: nothing is lost and a fresh file
// can be written. It returns the name it used.
func SetAside(path string, data []byte) (string, error) {
	if c := remote.Load(); c != nil {
		b, err := c.do(opAside, path, data)
		return string(b), err
	}
	return setAside(path, data)
}

func setAside(path string, data []byte) (string, error) {
	dst := path + ".corrupt"
	for i := 1; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
			break
		}
		if i > 1000 {
			return "", fmt.Errorf("set %s aside: %s.corrupt.1 to .1000 are all taken", path, path)
		}
		dst = path + ".corrupt." + strconv.Itoa(i)
	}
	if err := atomicfile.Write(dst, data, 0o644); err != nil {
		return dst, err
	}
	return dst, removeLocal(path)
}

// Allow is what [Serve] may do for a service: it returns nil when the
// service may read, write and remove path, or why not.
type Allow func(path string) error

// Serve answers one service's requests on conn until conn fails or is
// closed (then it returns nil on a clean end of stream). Each path must
// be absolute and clean, and allow must accept it; a refused request is
// answered with the reason. report (may be nil) is told of every
// request once it is done: err is nil when it succeeded (a read of a
// missing file is fs.ErrNotExist). A request larger than the limits
// ends the connection: the service is broken or hostile.
func Serve(conn io.ReadWriter, allow Allow, report func(op byte, path string, err error)) error {
	var hdr [7]byte
	for {
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		op := hdr[0]
		pn := int(binary.BigEndian.Uint16(hdr[1:]))
		dn := binary.BigEndian.Uint32(hdr[3:])
		if pn > MaxRemotePath || dn > MaxRemoteData {
			return fmt.Errorf("request of %d+%d bytes: more than %d+%d", pn, dn, MaxRemotePath, MaxRemoteData)
		}
		if op != opWrite && op != opAside && dn != 0 {
			return fmt.Errorf("request %q carries %d bytes of data", op, dn)
		}
		buf := make([]byte, pn+int(dn))
		if _, err := io.ReadFull(conn, buf); err != nil {
			return fmt.Errorf("request: %w", err)
		}
		path, data := string(buf[:pn]), buf[pn:]
		status, reply := serveOne(op, path, data, allow)
		if report != nil {
			var err error
			switch status {
			case statusError:
				err = errors.New(string(reply))
			case statusNotFound:
				err = fs.ErrNotExist
			}
			report(op, path, err)
		}
		out := make([]byte, 5, 5+len(reply))
		out[0] = status
		binary.BigEndian.PutUint32(out[1:], uint32(len(reply)))
		if _, err := conn.Write(append(out, reply...)); err != nil {
			return err
		}
	}
}

func serveOne(op byte, path string, data []byte, allow Allow) (byte, []byte) {
	fail := func(err error) (byte, []byte) {
		if errors.Is(err, fs.ErrNotExist) {
			return statusNotFound, nil
		}
		return statusError, []byte(err.Error())
	}
	if !filepath.IsAbs(path) || filepath.Clean(path) != path {
		return fail(fmt.Errorf("%q is not an absolute, clean path", path))
	}
	if err := allow(path); err != nil {
		return fail(fmt.Errorf("%s: %w", path, err))
	}
	switch op {
	case opRead:
		b, err := readLocal(path)
		if err != nil {
			return fail(err)
		}
		if len(b) > MaxRemoteData {
			return fail(fmt.Errorf("%s: %d bytes, more than a service may read (%d)", path, len(b), MaxRemoteData))
		}
		return statusOK, b
	case opWrite:
		if err := writeLocal(path, data, 0o644); err != nil {
			return fail(err)
		}
	case opRemove:
		if err := removeLocal(path); err != nil {
			return fail(err)
		}
	case opAside:
		name, err := setAside(path, data)
		if err != nil {
			return fail(err)
		}
		return statusOK, []byte(name)
	default:
		return fail(fmt.Errorf("unknown request %q", op))
	}
	return statusOK, nil
}
