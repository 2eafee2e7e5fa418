package audit

import (
	"context"
	"crypto/sha512"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// BatchStore appends many records in one durable transaction.
type BatchStore interface {
	Store
	// AppendAuditBatch stores n records, record i computed by build from
	// the sequence number and hash it follows, in one transaction.
	AppendAuditBatch(ctx context.Context, n int, build func(i int, seq int64, prevHash string) (Record, error)) error
	AddCheckpoint(ctx context.Context, c Checkpoint) error
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
	// LastAuditRecord returns the last record, or nil if there is none.
	LastAuditRecord(ctx context.Context) (*Record, error)
}

// Checkpoint is a signed statement of the chain's head: the installation
// key signs (Seq, Hash, Time), so that rewriting the chain from some
// record on, recomputing every hash, is still detected.
type Checkpoint struct {
	Seq       int64
	Hash      string
	Time      time.Time
	KeyID     string
	Signature []byte
}

// Message is what a checkpoint's signature covers.
func (c Checkpoint) Message() []byte {
	sum := sha512.Sum384([]byte(fmt.Sprintf("signet-audit-checkpoint-v1\n%d\n%s\n%d", c.Seq, c.Hash, c.Time.UnixNano())))
	return sum[:]
}

// Writer appends events in batches: one transaction (one fsync) per
// batch, however many requests are waiting, and signs a checkpoint every
// Every records or Interval.
type Writer struct {
	Store BatchStore
	// Sign signs a checkpoint's digest with the installation key.
	Sign     func(ctx context.Context, digest []byte) (keyID string, sig []byte, err error)
	Every    int
	Interval time.Duration
	Log      *slog.Logger

	once      sync.Once
	queue     chan pending
	stop      chan struct{}
	done      chan struct{}
	sinceCkpt int
	lastCkpt  time.Time
}

type pending struct {
	e    Event
	done chan error // nil: the caller does not wait
}

const maxBatch = 512

func (w *Writer) start() {
	w.once.Do(func() {
		if w.Every == 0 {
			w.Every = 1000
		}
		if w.Interval == 0 {
			w.Interval = time.Minute
		}
		w.queue = make(chan pending, 4096)
		w.stop = make(chan struct{})
		w.done = make(chan struct{})
		w.lastCkpt = time.Now()
		go w.run()
	})
}

// Append queues an event. With wait it returns once the event is
// durable (or failed to be); without, at once.
func (w *Writer) Append(ctx context.Context, e Event, wait bool) error {
	w.start()
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	p := pending{e: e}
	if wait {
		p.done = make(chan error, 1)
	}
	select {
	case w.queue <- p:
	case <-w.stop:
		return fmt.Errorf("audit log closed")
	}
	if !wait {
		return nil
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *Writer) run() {
	defer close(w.done)
	t := time.NewTicker(w.Interval)
	defer t.Stop()
	for {
		var first pending
		select {
		case first = <-w.queue:
		case <-t.C:
			w.checkpoint(false)
			continue
		case <-w.stop:
			w.drain()
			w.checkpoint(true)
			return
		}
		w.write(w.collect(first))
	}
}

// linger is how long records nobody waits for are held to join a larger
// batch (fewer transactions under load); a record someone waits for
// ends the wait.
const linger = 5 * time.Millisecond

func (w *Writer) collect(first pending) []pending {
	batch := []pending{first}
	waited := first.done != nil
	var deadline <-chan time.Time
	if !waited {
		t := time.NewTimer(linger)
		defer t.Stop()
		deadline = t.C
	}
	for len(batch) < maxBatch {
		if waited {
			select {
			case p := <-w.queue:
				batch = append(batch, p)
			default:
				return batch
			}
			continue
		}
		select {
		case p := <-w.queue:
			batch = append(batch, p)
			waited = p.done != nil
		case <-deadline:
			return batch
		case <-w.stop:
			return batch
		}
	}
	return batch
}

func (w *Writer) drain() {
	for {
		select {
		case p := <-w.queue:
			w.write(w.collect(p))
		default:
			return
		}
	}
}

func (w *Writer) write(batch []pending) {
	err := w.Store.AppendAuditBatch(context.Background(), len(batch), func(i int, seq int64, prev string) (Record, error) {
		h, err := Hash(prev, batch[i].e)
		return Record{Seq: seq, Event: batch[i].e, PrevHash: prev, Hash: h}, err
	})
	if err != nil && w.Log != nil {
		w.Log.Error("failed to write audit records", "records", len(batch), "err", err)
	}
	for _, p := range batch {
		if p.done != nil {
			p.done <- err
		}
	}
	if err == nil {
		w.sinceCkpt += len(batch)
		if w.sinceCkpt >= w.Every {
			w.checkpoint(true)
		}
	}
}

// checkpoint signs the chain head if records were added since the last
// checkpoint (and, unless force, the interval has passed).
func (w *Writer) checkpoint(force bool) {
	if w.Sign == nil || w.sinceCkpt == 0 || (!force && time.Since(w.lastCkpt) < w.Interval && w.sinceCkpt < w.Every) {
		return
	}
	if err := SignHead(context.Background(), w.Store, w.Sign); err != nil {
		if w.Log != nil {
			w.Log.Error("failed to sign an audit checkpoint", "err", err)
		}
		return
	}
	w.sinceCkpt, w.lastCkpt = 0, time.Now()
}

// SignHead signs a checkpoint of the chain's current last record.
func SignHead(ctx context.Context, s BatchStore, sign func(ctx context.Context, digest []byte) (string, []byte, error)) error {
	last, err := s.LastAuditRecord(ctx)
	if err != nil || last == nil {
		return err
	}
	c := Checkpoint{Seq: last.Seq, Hash: last.Hash, Time: time.Now().UTC().Truncate(time.Microsecond)}
	if c.KeyID, c.Signature, err = sign(ctx, c.Message()); err != nil {
		return err
	}
	return s.AddCheckpoint(ctx, c)
}

// Close writes what is queued, signs a final checkpoint and stops.
func (w *Writer) Close() error {
	w.start()
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
	return nil
}

// VerifyCheckpoints checks every checkpoint's signature (with verify) and
// that the chain still holds the signed record. It returns a *Problem
// naming the record that no longer matches.
func VerifyCheckpoints(ctx context.Context, s BatchStore, verify func(keyID string, digest, sig []byte) error) (int, error) {
	cps, err := s.Checkpoints(ctx)
	if err != nil {
		return 0, err
	}
	for i, c := range cps {
		if err := verify(c.KeyID, c.Message(), c.Signature); err != nil {
			return i, &Problem{Seq: c.Seq, Reason: fmt.Sprintf("the signed checkpoint of this record does not verify (%v): the checkpoint was forged or altered", err)}
		}
		recs, err := s.AuditRecords(ctx, c.Seq-1, 1)
		if err != nil {
			return i, err
		}
		switch {
		case len(recs) == 0 || recs[0].Seq != c.Seq:
			return i, &Problem{Seq: c.Seq, Reason: "deleted: a signed checkpoint covers it but it is no longer in the log"}
		case recs[0].Hash != c.Hash:
			return i, &Problem{Seq: c.Seq, Reason: "rewritten: its hash differs from the one the installation key signed (the chain up to it was recomputed)"}
		}
	}
	return len(cps), nil
}
