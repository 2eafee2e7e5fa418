// Package sweep finds the object data nothing refers to (what a process
// killed between writing data and recording it left) and moves it to a
// trash, safely: only in Signet's namespaces, never when the store holds
// another installation's data or is ahead of the database.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Lister is a data store whose paths can be listed.
type Lister interface {
	List(ctx context.Context, fn func(path string, modified time.Time) error) error
	Copy(ctx context.Context, dst, src string) error
	Delete(ctx context.Context, path string) error
}

// Namespaces are the prefixes under which Signet writes object data; a
// sweep considers nothing else.
var Namespaces = []string{"data/", "parts/", "functions/", "layers/"}

// TrashPrefix holds swept data until Options.KeepTrash has passed: a
// mistaken sweep (a database restored from an older backup, a bucket
// another installation also uses) can be undone by moving it back.
const TrashPrefix = "trash/"

// MarkerName is the name of the file that records whose data a store
// holds (see server.InstallationMarker).
const MarkerName = "signet-installation"

// Errors that stop a sweep before it moves anything.
var (
	ErrForeignInstallation = errors.New("the object data store also holds another installation's data")
	ErrStoreAhead          = errors.New("the object data store holds unreferenced data newer than anything the database records")
)

// Options says what a sweep may take.
type Options struct {
	// Before: only data modified before it is garbage (the grace period
	// covers the time between writing data and recording it).
	Before time.Time
	// Newest is the time of the newest record in the metadata: garbage
	// newer than it means the database is behind the store (restored
	// from an older backup), and the sweep stops.
	Newest time.Time
	// Now and KeepTrash: swept data older than KeepTrash in the trash
	// is deleted for good.
	Now       time.Time
	KeepTrash time.Duration
	// Dry lists and moves nothing.
	Dry bool
}

// Report is what a sweep found.
type Report struct {
	Listed  int      // paths in the data store
	Young   int      // unreferenced, but modified after the cut-off: left alone
	Other   int      // paths outside Signet's namespaces: left alone
	Deleted []string // unreferenced and older: moved to the trash (or, dry, to move)
	Purged  int      // trash older than KeepTrash, deleted
}

// Run moves the data nothing refers to into the trash: paths in
// Signet's namespaces that are not in referenced and were modified before
// opts.Before. referenced must have been read before the listing starts,
// so that data written and recorded since is younger than Before. It
// moves nothing when the store holds another installation's marker under
// a prefix, or unreferenced data newer than opts.Newest.
func Run(ctx context.Context, data Lister, referenced map[string]bool, opts Options) (Report, error) {
	var r Report
	var garbage, trash []string
	err := data.List(ctx, func(path string, modified time.Time) error {
		r.Listed++
		switch {
		case strings.HasSuffix(path, "/"+MarkerName):
			return fmt.Errorf("%w (%s): keep each installation in a bucket or prefix of its own, with no other under it", ErrForeignInstallation, path)
		case path == MarkerName:
		case strings.HasPrefix(path, TrashPrefix):
			if opts.KeepTrash > 0 && modified.Before(opts.Now.Add(-opts.KeepTrash)) {
				trash = append(trash, path)
			}
		case !inNamespaces(path):
			r.Other++
		case referenced[path]:
		case modified.After(opts.Before):
			r.Young++
		case !opts.Newest.IsZero() && modified.After(opts.Newest):
			return fmt.Errorf("%w (%s, written %s; the newest record is of %s): if the database was restored from a backup, the data written since is not garbage",
				ErrStoreAhead, path, modified.UTC().Format(time.RFC3339), opts.Newest.UTC().Format(time.RFC3339))
		default:
			garbage = append(garbage, path)
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	for _, p := range garbage {
		if !opts.Dry {
			if err := data.Copy(ctx, TrashPrefix+p, p); err != nil {
				return r, err
			}
			if err := data.Delete(ctx, p); err != nil {
				return r, err
			}
		}
		r.Deleted = append(r.Deleted, p)
	}
	for _, p := range trash {
		if !opts.Dry {
			if err := data.Delete(ctx, p); err != nil {
				return r, err
			}
		}
		r.Purged++
	}
	return r, nil
}

func inNamespaces(path string) bool {
	for _, ns := range Namespaces {
		if strings.HasPrefix(path, ns) {
			return true
		}
	}
	return false
}
