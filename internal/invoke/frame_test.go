package invoke

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	tests := []struct {
		typ  byte
		hdr  any
		body []byte
	}{
		{frameInvoke, invokeHeader{RequestID: "r1", DeadlineMs: 1700000000000, InvokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:f"}, []byte(`{"key1":"v"}`)},
		{frameResponse, resultHeader{RequestID: "r1"}, []byte(`"ok"`)},
		{frameLog, nil, []byte("line\n")},
		{frameReady, nil, nil},
		{frameExit, resultHeader{Status: "exit status 1"}, nil},
	}
	var buf bytes.Buffer
	for _, tc := range tests {
		if err := writeFrame(&buf, tc.typ, tc.hdr, tc.body); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range tests {
		f, err := readFrame(&buf)
		if err != nil || f.typ != tc.typ || !bytes.Equal(f.body, tc.body) && len(tc.body)+len(f.body) > 0 {
			t.Fatalf("frame %c: %v %+v", tc.typ, err, f)
		}
	}
	if _, err := readFrame(&buf); err != io.EOF {
		t.Errorf("after the last frame: %v, want EOF", err)
	}
}

func TestFrameLimits(t *testing.T) {
	huge := []byte{frameResponse, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}
	if _, err := readFrame(bytes.NewReader(huge)); !errors.Is(err, errFrameTooLarge) {
		t.Errorf("4 GB body: %v, want errFrameTooLarge", err)
	}
	short := []byte{frameLog, 0, 0, 0, 0, 0, 0, 0, 10, 'a'}
	if _, err := readFrame(bytes.NewReader(short)); err != io.ErrUnexpectedEOF {
		t.Errorf("truncated body: %v, want ErrUnexpectedEOF", err)
	}
}

// FuzzReadFrame reads frames as a sandbox could send them: any input is
// refused or read within the limits, and what is read writes back the
// same.
func FuzzReadFrame(f *testing.F) {
	var b bytes.Buffer
	writeFrame(&b, frameResponse, resultHeader{RequestID: "r"}, []byte(`"x"`))
	f.Add(b.Bytes())
	f.Add([]byte{frameLog, 0, 0, 0, 0, 0, 0, 0, 1, 'x'})
	f.Add([]byte{frameExit, 0, 0, 0, 2, 0, 0, 0, 0, '{', '}'})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for {
			fr, err := readFrame(r)
			if err != nil {
				return
			}
			if len(fr.hdr) > maxFrameHeader || len(fr.body) > maxFrameBody {
				t.Fatalf("frame over the limits: %d %d", len(fr.hdr), len(fr.body))
			}
			var out bytes.Buffer
			writeFrame(&out, fr.typ, nil, fr.body)
			back, err := readFrame(&out)
			if err != nil || back.typ != fr.typ || !bytes.Equal(back.body, fr.body) {
				t.Fatalf("round trip: %v", err)
			}
		}
	})
}
