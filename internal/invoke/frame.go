package invoke

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Signet and a sandbox's init process talk over a socket pair in frames:
// a type byte, the lengths of a JSON header and of a body (4 bytes each,
// big endian), the header and the body.
//
// Signet to init:  frameInvoke, frameAPIResponse.
// Init to Signet:  frameReady (the runtime asked for its first event),
// frameLog (output of the function), frameResponse, frameError,
// frameInitError, frameExit (the runtime process ended), frameAPIRequest
// (an AWS API request the function made to APIAddr, relayed).
const (
	frameInvoke      = 'I'
	frameReady       = 'N'
	frameLog         = 'L'
	frameResponse    = 'R'
	frameError       = 'E'
	frameInitError   = 'X'
	frameExit        = 'Q'
	frameAPIRequest  = 'A'
	frameAPIResponse = 'a'
	frameEvict       = 'V' // Signet to init: drop cached extension answers about a resource
)

// Frame size limits. The body of a response is at most MaxResponse; the
// sandbox is not trusted, so anything larger ends the instance.
const (
	maxFrameHeader = 64 << 10
	maxFrameBody   = MaxSyncPayload + 1<<20
)

type frame struct {
	typ  byte
	hdr  []byte
	body []byte
}

// invokeHeader is the header of frameInvoke.
type invokeHeader struct {
	RequestID          string `json:"id"`
	DeadlineMs         int64  `json:"deadline"`
	InvokedFunctionArn string `json:"arn"`
	TraceID            string `json:"trace,omitempty"`
	ClientContext      string `json:"clientContext,omitempty"`
	CognitoIdentity    string `json:"cognito,omitempty"`
}

// resultHeader is the header of the frames that end an invocation.
type resultHeader struct {
	RequestID string `json:"id,omitempty"`
	ErrorType string `json:"type,omitempty"`
	Status    string `json:"status,omitempty"` // frameExit: how the runtime ended
}

func writeFrame(w io.Writer, typ byte, hdr any, body []byte) error {
	var h []byte
	if hdr != nil {
		var err error
		if h, err = json.Marshal(hdr); err != nil {
			return err
		}
	}
	buf := make([]byte, 9, 9+len(h)+len(body))
	buf[0] = typ
	binary.BigEndian.PutUint32(buf[1:], uint32(len(h)))
	binary.BigEndian.PutUint32(buf[5:], uint32(len(body)))
	buf = append(append(buf, h...), body...)
	_, err := w.Write(buf)
	return err
}

var errFrameTooLarge = errors.New("frame too large")

func readFrame(r io.Reader) (frame, error) {
	var pre [9]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return frame{}, err
	}
	hl, bl := binary.BigEndian.Uint32(pre[1:]), binary.BigEndian.Uint32(pre[5:])
	if hl > maxFrameHeader || bl > maxFrameBody {
		return frame{}, fmt.Errorf("%w: header %d bytes, body %d bytes", errFrameTooLarge, hl, bl)
	}
	f := frame{typ: pre[0], hdr: make([]byte, hl), body: make([]byte, bl)}
	if _, err := io.ReadFull(r, f.hdr); err != nil {
		return frame{}, unexpected(err)
	}
	if _, err := io.ReadFull(r, f.body); err != nil {
		return frame{}, unexpected(err)
	}
	return f, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
