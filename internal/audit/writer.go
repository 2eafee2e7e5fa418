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
// batch, however many requests are waiting, and signs a checkpoint after
// Every records, and at every tick of Interval that follows new records,
// so that no record stays unsigned longer than Interval.
type Writer struct {
	Store BatchStore
	// Sign signs a checkpoint's digest with the installation key.
	Sign func(ctx context.Context, digest []byte) (keyID string, sig []byte, err error)
	// Every is the most records a checkpoint may leave unsigned; 0
	// means 1,000.
	Every int
	// Interval is the longest a record stays unsigned; 0 means a
	// minute.
	Interval time.Duration
	Log      *slog.Logger
	// Now is the clock checkpoints are dated with; nil means time.Now.
	Now func() time.Time

	once      sync.Once
	queue     chan pending
	stop      chan struct{}
	done      chan struct{}
	tick      <-chan time.Time // tests: replaces the Interval ticker
	sinceCkpt int
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
		go w.run()
	})
}

// Append queues an event. With wait it returns once the event is
// durable (or failed to be); without, at once.
func (w *Writer) Append(ctx context.Context, e Event, wait bool) error {
	w.start()
	e = e.Clean()
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
	tick := w.tick
	if tick == nil {
		t := time.NewTicker(w.Interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		var first pending
		select {
		case first = <-w.queue:
		case <-tick:
			// Every record written since the last checkpoint was written
			// within the last Interval: sign now. (Checking the time
			// since the last checkpoint instead skipped every tick that
			// followed a checkpoint by a hair less than Interval, which
			// made the interval twice as long.)
			w.checkpoint()
			continue
		case <-w.stop:
			w.drain()
			w.checkpoint()
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
		return NewRecord(seq, prev, batch[i].e)
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
			w.checkpoint()
		}
	}
}

// checkpoint signs the chain head if records were added since the last
// checkpoint.
func (w *Writer) checkpoint() {
	if w.Sign == nil || w.sinceCkpt == 0 {
		return
	}
	if err := SignHead(context.Background(), w.Store, w.Sign, w.now()); err != nil {
		if w.Log != nil {
			w.Log.Error("failed to sign an audit checkpoint", "err", err)
		}
		return
	}
	w.sinceCkpt = 0
}

func (w *Writer) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// Resume signs a checkpoint of the chain's last record if no checkpoint
// covers it yet: the records a server wrote after its last checkpoint
// before it stopped without closing its Writer (a crash). A server calls
// it at start, before it appends.
func (w *Writer) Resume(ctx context.Context) error {
	if w.Sign == nil {
		return nil
	}
	last, err := w.Store.LastAuditRecord(ctx)
	if err != nil || last == nil {
		return err
	}
	var head *Checkpoint
	if lc, ok := w.Store.(LastCheckpointer); ok {
		head, err = lc.LastCheckpoint(ctx)
	} else {
		var cps []Checkpoint
		cps, err = w.Store.Checkpoints(ctx)
		if len(cps) > 0 {
			head = &cps[len(cps)-1]
		}
	}
	if err != nil {
		return err
	}
	if head != nil && head.Seq >= last.Seq {
		return nil
	}
	return SignHead(ctx, w.Store, w.Sign, w.now())
}

// LastCheckpointer is a BatchStore that finds the newest checkpoint
// without listing them all.
type LastCheckpointer interface {
	// LastCheckpoint returns the checkpoint added last, or nil if there
	// is none.
	LastCheckpoint(ctx context.Context) (*Checkpoint, error)
}

// SignHead signs a checkpoint, dated now, of the chain's current last
// record.
func SignHead(ctx context.Context, s BatchStore, sign func(ctx context.Context, digest []byte) (string, []byte, error), now time.Time) error {
	last, err := s.LastAuditRecord(ctx)
	if err != nil || last == nil {
		return err
	}
	c := Checkpoint{Seq: last.Seq, Hash: last.Hash, Time: now.UTC().Truncate(time.Microsecond)}
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
// that the chain still holds the signed record. It returns the number of
// checkpoints that hold and, when some do not, a *DamageError naming
// every record that no longer matches its checkpoint: rewritten (the
// chain up to it recomputed), deleted, or cut off with the end of the
// log (truncated).
func VerifyCheckpoints(ctx context.Context, s BatchStore, verify func(keyID string, digest, sig []byte) error) (int, error) {
	cps, err := s.Checkpoints(ctx)
	if err != nil {
		return 0, err
	}
	last, err := s.LastAuditRecord(ctx)
	if err != nil {
		return 0, err
	}
	var problems []*Problem
	n := 0
	for _, c := range cps {
		if err := verify(c.KeyID, c.Message(), c.Signature); err != nil {
			problems = append(problems, &Problem{Seq: c.Seq, Reason: fmt.Sprintf("the signed checkpoint of this record does not verify (%v): the checkpoint was forged or altered", err)})
			continue
		}
		recs, err := s.AuditRecords(ctx, c.Seq-1, 1)
		if err != nil {
			return n, err
		}
		switch {
		case last == nil || last.Seq < c.Seq:
			end := int64(0)
			if last != nil {
				end = last.Seq
			}
			problems = append(problems, &Problem{Seq: c.Seq, Reason: fmt.Sprintf("deleted: a signed checkpoint covers it but the log now ends at record %d (truncated)", end)})
		case len(recs) == 0 || recs[0].Seq != c.Seq:
			problems = append(problems, &Problem{Seq: c.Seq, Reason: "deleted: a signed checkpoint covers it but it is no longer in the log"})
		case recs[0].Hash != c.Hash:
			problems = append(problems, &Problem{Seq: c.Seq, Reason: "rewritten: its hash differs from the one the installation key signed (the chain up to it was recomputed)"})
		default:
			n++
		}
	}
	return n, damage(problems)
}
