// Command mongosh is the health check of the local FerretDB image, standing in for the mongo image's
// mongosh so that docker-compose.yml's check runs unchanged. It understands only what that check
// needs: it sends {ping: 1} to admin on --host (127.0.0.1:27017) and exits 0 when the reply has
// ok: 1; every other argument (--quiet, --eval "db.adminCommand('ping')") is accepted and ignored.
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"time"
)

const opMsg = 2013

func main() {
	host := "127.0.0.1:27017"
	for i, arg := range os.Args[1:] {
		if arg == "--host" && i+2 < len(os.Args) {
			host = os.Args[i+2]
		}
	}
	if err := ping(host); err != nil {
		fmt.Fprintln(os.Stderr, "ping failed:", err)
		os.Exit(1)
	}
	fmt.Println("{ ok: 1 }")
}

func ping(host string) error {
	conn, err := net.DialTimeout("tcp", host, 3*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))

	// {ping: int32(1), $db: "admin"} in BSON, as the single body section of an OP_MSG.
	var doc bytes.Buffer
	doc.Write([]byte{0x10, 'p', 'i', 'n', 'g', 0, 1, 0, 0, 0})
	doc.Write([]byte{0x02, '$', 'd', 'b', 0, 6, 0, 0, 0, 'a', 'd', 'm', 'i', 'n', 0})
	doc.WriteByte(0)
	body := binary.LittleEndian.AppendUint32(nil, uint32(doc.Len()+4))
	body = append(body, doc.Bytes()...)

	msg := make([]byte, 16, 16+5+len(body))
	msg = binary.LittleEndian.AppendUint32(msg, 0) // flag bits
	msg = append(msg, 0)                           // section kind 0: body
	msg = append(msg, body...)
	binary.LittleEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.LittleEndian.PutUint32(msg[4:], 1)
	binary.LittleEndian.PutUint32(msg[12:], opMsg)
	if _, err := conn.Write(msg); err != nil {
		return err
	}

	header := make([]byte, 16)
	if _, err := io.ReadFull(conn, header); err != nil {
		return err
	}
	size := binary.LittleEndian.Uint32(header)
	if size < 21 || size > 1<<24 || binary.LittleEndian.Uint32(header[12:]) != opMsg {
		return errors.New("unexpected reply header")
	}
	reply := make([]byte, size-16)
	if _, err := io.ReadFull(conn, reply); err != nil {
		return err
	}
	if reply[4] != 0 {
		return errors.New("unexpected reply section")
	}
	ok, err := okField(reply[5:])
	if err != nil {
		return err
	}
	if ok != 1 {
		return fmt.Errorf("ok: %v", ok)
	}
	return nil
}

// okField reads the top-level "ok" of a BSON document, skipping the element types a ping reply has.
func okField(doc []byte) (float64, error) {
	if len(doc) < 5 {
		return 0, errors.New("short document")
	}
	pos := 4
	for pos < len(doc) && doc[pos] != 0 {
		kind := doc[pos]
		end := bytes.IndexByte(doc[pos+1:], 0)
		if end < 0 {
			return 0, errors.New("bad element name")
		}
		name := string(doc[pos+1 : pos+1+end])
		pos += 2 + end
		var n int
		switch kind {
		case 0x01, 0x09, 0x11, 0x12:
			n = 8
		case 0x10:
			n = 4
		case 0x08:
			n = 1
		case 0x0A:
			n = 0
		case 0x07:
			n = 12
		case 0x02:
			n = 4 + int(binary.LittleEndian.Uint32(doc[pos:]))
		case 0x03, 0x04:
			n = int(binary.LittleEndian.Uint32(doc[pos:]))
		default:
			return 0, fmt.Errorf("element %q of type %#x", name, kind)
		}
		if pos+n > len(doc) {
			return 0, errors.New("truncated element")
		}
		if name == "ok" {
			switch kind {
			case 0x01:
				return math.Float64frombits(binary.LittleEndian.Uint64(doc[pos:])), nil
			case 0x10:
				return float64(int32(binary.LittleEndian.Uint32(doc[pos:]))), nil
			}
		}
		pos += n
	}
	return 0, errors.New("no ok field")
}
