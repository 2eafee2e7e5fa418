package sweep_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/signet/signet/internal/objects/sweep"
)

type fakeData struct {
	paths   map[string]time.Time
	failDel error
}

func (f *fakeData) List(ctx context.Context, fn func(string, time.Time) error) error {
	for _, p := range slices.Sorted(maps.Keys(f.paths)) {
		if err := fn(p, f.paths[p]); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeData) Copy(ctx context.Context, dst, src string) error {
	f.paths[dst] = f.paths[src]
	return nil
}

func (f *fakeData) Delete(ctx context.Context, p string) error {
	if f.failDel != nil {
		return f.failDel
	}
	delete(f.paths, p)
	return nil
}

func TestSweep(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	cut, newest := now.Add(-time.Hour), now.Add(-time.Minute)
	old := cut.Add(-time.Hour)
	cases := []struct {
		name      string
		paths     map[string]time.Time
		refs      []string
		dry       bool
		failDel   error
		wantMoved []string
		wantAfter []string // paths left in the store
		wantErr   error
	}{
		{name: "ok/nothing-to-do", paths: map[string]time.Time{"data/b/1": old}, refs: []string{"data/b/1"}, wantAfter: []string{"data/b/1"}},
		{name: "ok/garbage-to-trash", paths: map[string]time.Time{"data/b/1": old, "data/b/2": old, "parts/u/1": old, "functions/f/x": old, "layers/l/y": old}, refs: []string{"data/b/1"},
			wantMoved: []string{"data/b/2", "functions/f/x", "layers/l/y", "parts/u/1"},
			wantAfter: []string{"data/b/1", "trash/data/b/2", "trash/functions/f/x", "trash/layers/l/y", "trash/parts/u/1"}},
		{name: "ok/young-left", paths: map[string]time.Time{"data/b/3": cut.Add(time.Second)}, wantAfter: []string{"data/b/3"}},
		{name: "ok/others-left", paths: map[string]time.Time{"backups/x": old, "signet-installation": old, "other-app/data/b/1": old},
			wantAfter: []string{"backups/x", "other-app/data/b/1", "signet-installation"}},
		{name: "ok/old-trash-purged", paths: map[string]time.Time{"trash/data/b/1": now.Add(-8 * 24 * time.Hour), "trash/data/b/2": now.Add(-6 * 24 * time.Hour)},
			wantAfter: []string{"trash/data/b/2"}},
		{name: "ok/dry", paths: map[string]time.Time{"layers/l/y": old}, dry: true, wantMoved: []string{"layers/l/y"}, wantAfter: []string{"layers/l/y"}},
		{name: "fail/another-installation-under-a-prefix", paths: map[string]time.Time{"data/b/2": old, "second/signet-installation": old, "second/data/b/1": old},
			wantErr: sweep.ErrForeignInstallation, wantAfter: []string{"data/b/2", "second/data/b/1", "second/signet-installation"}},
		{name: "fail/store-ahead-of-the-database", paths: map[string]time.Time{"data/b/2": old, "data/b/3": newest.Add(time.Second)},
			wantErr: sweep.ErrStoreAhead, wantAfter: []string{"data/b/2", "data/b/3"}},
		{name: "fail/delete", paths: map[string]time.Time{"parts/u/1": old}, failDel: errors.New("denied"), wantErr: errors.New("")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeData{paths: c.paths, failDel: c.failDel}
			refs := map[string]bool{}
			for _, r := range c.refs {
				refs[r] = true
			}
			// newest is a minute ago, but the store-ahead case needs data
			// past the grace cut that is newer: move the cut for it.
			opts := sweep.Options{Before: cut, Newest: newest, Now: now, KeepTrash: 7 * 24 * time.Hour, Dry: c.dry}
			if c.name == "fail/store-ahead-of-the-database" {
				opts.Before, opts.Newest = now, old.Add(time.Minute)
			}
			r, err := sweep.Run(context.Background(), f, refs, opts)
			switch {
			case c.wantErr == nil && err != nil:
				t.Fatalf("Sweep = %v", err)
			case c.wantErr != nil && err == nil:
				t.Fatalf("Sweep succeeded, want %v", c.wantErr)
			case c.wantErr != nil && c.wantErr.Error() != "" && !errors.Is(err, c.wantErr):
				t.Fatalf("Sweep = %v, want %v", err, c.wantErr)
			}
			if c.wantErr == nil {
				slices.Sort(r.Deleted)
				if !slices.Equal(r.Deleted, c.wantMoved) {
					t.Errorf("moved %v, want %v", r.Deleted, c.wantMoved)
				}
			}
			if c.wantAfter != nil {
				if got := slices.Sorted(maps.Keys(f.paths)); !slices.Equal(got, c.wantAfter) {
					t.Errorf("left %v, want %v", got, c.wantAfter)
				}
			}
		})
	}
}
