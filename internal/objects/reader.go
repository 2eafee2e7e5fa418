package objects

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Object is one open version of an object. It reads through range reads
// of the data store and caches nothing but one open sequential reader, so
// that consecutive ReadAt calls (a zip reader walking its entries) do not
// reopen the data. Reads use the context given to OpenVersion. It is safe
// for concurrent use.
type Object struct {
	Bucket       string
	Key          string
	VersionID    string // "null" for an unversioned object
	ETag         string // without quotes
	ContentType  string
	LastModified time.Time

	size int64
	segs []Segment
	data DataStore
	ctx  context.Context

	mu     sync.Mutex
	cur    *segmentReader // positioned at pos
	pos    int64
	closed bool
}

func newObject(ctx context.Context, data DataStore, v Version) *Object {
	return &Object{
		Bucket: v.Bucket, Key: v.Key, VersionID: v.VersionID, ETag: v.ETag, ContentType: v.ContentType, LastModified: v.LastModified,
		size: v.Size, segs: v.Segments, data: data, ctx: ctx,
	}
}

// Size is the object's length in bytes.
func (o *Object) Size() int64 { return o.size }

// Info describes the version.
func (o *Object) Info() ObjectInfo {
	return ObjectInfo{Bucket: o.Bucket, Key: o.Key, VersionID: o.VersionID, Size: o.size, ETag: o.ETag,
		ContentType: o.ContentType, LastModified: o.LastModified}
}

// errClosed is returned by reads of a closed Object.
var errClosed = errors.New("objects: read of a closed object")

// ReadAt implements io.ReaderAt.
func (o *Object) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("objects: negative offset %d", off)
	}
	size := o.size
	if off >= size {
		if len(p) == 0 && off == size {
			return 0, nil
		}
		return 0, io.EOF
	}
	want := int64(len(p))
	if rest := size - off; want > rest {
		want = rest
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return 0, errClosed
	}
	if o.cur == nil || o.pos != off {
		if o.cur != nil {
			o.cur.Close()
			o.cur = nil
		}
		r, err := openSegments(o.ctx, o.data, o.segs, off, size-off)
		if err != nil {
			return 0, err
		}
		o.cur, o.pos = r, off
	}
	n, err := io.ReadFull(o.cur, p[:want])
	o.pos += int64(n)
	if err != nil {
		o.cur.Close()
		o.cur = nil
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return n, err
	}
	if want < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

// NewReader reads length bytes from offset off, which must lie within
// the object (length may be 0).
func (o *Object) NewReader(off, length int64) (io.ReadCloser, error) {
	if off < 0 || length < 0 || off+length > o.size {
		return nil, fmt.Errorf("objects: range %d+%d outside an object of %d bytes", off, length, o.size)
	}
	return openSegments(o.ctx, o.data, o.segs, off, length)
}

// Close releases the open reader, if any.
func (o *Object) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	if o.cur != nil {
		err := o.cur.Close()
		o.cur = nil
		return err
	}
	return nil
}

// segmentReader reads a range that spans consecutive segments, opening
// each segment's range reader when it gets there.
type segmentReader struct {
	ctx       context.Context
	data      DataStore
	segs      []Segment // from the segment holding the next byte
	off       int64     // offset of the next byte in segs[0]
	remaining int64
	cur       io.ReadCloser
	curLeft   int64
}

// openSegments returns a reader of length bytes from off. It opens the
// first segment at once, so that missing data fails here rather than in
// the middle of a response.
func openSegments(ctx context.Context, data DataStore, segs []Segment, off, length int64) (*segmentReader, error) {
	r := &segmentReader{ctx: ctx, data: data, segs: segs, off: off, remaining: length}
	if length > 0 {
		if err := r.open(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *segmentReader) open() error {
	for len(r.segs) > 0 && r.off >= r.segs[0].Size {
		r.off -= r.segs[0].Size
		r.segs = r.segs[1:]
	}
	if len(r.segs) == 0 {
		return fmt.Errorf("objects: %d bytes missing past the last segment: %w", r.remaining, io.ErrUnexpectedEOF)
	}
	seg := r.segs[0]
	n := min(seg.Size-r.off, r.remaining)
	rc, err := r.data.NewRangeReader(r.ctx, seg.Path, r.off, n)
	if err != nil {
		return fmt.Errorf("failed to open object data %s: %w", seg.Path, err)
	}
	r.cur, r.curLeft = rc, n
	return nil
}

func (r *segmentReader) Read(p []byte) (int, error) {
	if r.remaining == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if r.cur == nil {
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	if int64(len(p)) > r.curLeft {
		p = p[:r.curLeft]
	}
	n, err := r.cur.Read(p)
	r.curLeft -= int64(n)
	r.remaining -= int64(n)
	r.off += int64(n)
	if r.curLeft == 0 {
		cerr := r.cur.Close()
		r.cur = nil
		r.off = 0
		r.segs = r.segs[1:]
		if cerr != nil {
			return n, cerr
		}
		return n, nil
	}
	if err == io.EOF {
		return n, fmt.Errorf("objects: data of %s ends %d bytes early: %w", r.segs[0].Path, r.curLeft, io.ErrUnexpectedEOF)
	}
	return n, err
}

// Close closes the open segment reader.
func (r *segmentReader) Close() error {
	if r.cur != nil {
		err := r.cur.Close()
		r.cur = nil
		return err
	}
	return nil
}
