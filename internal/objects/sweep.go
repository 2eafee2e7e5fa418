package objects

import (
	"context"
	"time"
)

// Lister is a data store whose paths can be listed.
type Lister interface {
	List(ctx context.Context, fn func(path string, modified time.Time) error) error
	Delete(ctx context.Context, path string) error
}

// SweepReport is what a sweep found.
type SweepReport struct {
	Listed  int      // paths in the data store
	Young   int      // unreferenced, but modified after the cut-off: left alone
	Deleted []string // unreferenced and older: garbage, deleted (or, dry, to delete)
}

// Sweep deletes the data nothing refers to: paths not in referenced and
// modified before before. referenced must have been read before the
// listing starts, so that data written and recorded since is younger than
// before (the grace period covers the time between writing data and
// recording it). With dry, nothing is deleted.
func Sweep(ctx context.Context, data Lister, referenced map[string]bool, before time.Time, dry bool) (SweepReport, error) {
	var r SweepReport
	var garbage []string
	err := data.List(ctx, func(path string, modified time.Time) error {
		r.Listed++
		switch {
		case referenced[path]:
		case modified.After(before):
			r.Young++
		default:
			garbage = append(garbage, path)
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	for _, p := range garbage {
		if !dry {
			if err := data.Delete(ctx, p); err != nil {
				return r, err
			}
		}
		r.Deleted = append(r.Deleted, p)
	}
	return r, nil
}
