package objects_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/signet/signet/internal/objects"
)

type fakeData struct {
	paths   map[string]time.Time
	deleted []string
	failDel error
}

func (f *fakeData) List(ctx context.Context, fn func(string, time.Time) error) error {
	for p, t := range f.paths {
		if err := fn(p, t); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeData) Delete(ctx context.Context, p string) error {
	if f.failDel != nil {
		return f.failDel
	}
	f.deleted = append(f.deleted, p)
	delete(f.paths, p)
	return nil
}

func TestSweep(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	cut := t0.Add(-time.Hour)
	cases := []struct {
		name        string
		paths       map[string]time.Time
		refs        []string
		dry         bool
		failDel     error
		wantDeleted []string
		wantYoung   int
		wantErr     bool
	}{
		{name: "ok/nothing-to-do", paths: map[string]time.Time{"data/b/1": cut.Add(-time.Hour)}, refs: []string{"data/b/1"}},
		{name: "ok/old-garbage", paths: map[string]time.Time{"data/b/1": cut.Add(-time.Hour), "data/b/2": cut.Add(-time.Minute)}, refs: []string{"data/b/1"},
			wantDeleted: []string{"data/b/2"}},
		{name: "ok/young-left", paths: map[string]time.Time{"data/b/3": cut.Add(time.Second), "functions/f/x": t0}, wantYoung: 2},
		{name: "ok/dry", paths: map[string]time.Time{"layers/l/y": cut.Add(-time.Hour)}, dry: true, wantDeleted: []string{"layers/l/y"}},
		{name: "fail/delete", paths: map[string]time.Time{"parts/u/1": cut.Add(-time.Hour)}, failDel: errors.New("denied"), wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeData{paths: c.paths, failDel: c.failDel}
			refs := map[string]bool{}
			for _, r := range c.refs {
				refs[r] = true
			}
			listed := len(c.paths)
			r, err := objects.Sweep(context.Background(), f, refs, cut, c.dry)
			if (err != nil) != c.wantErr {
				t.Fatalf("Sweep = %v", err)
			}
			if c.wantErr {
				return
			}
			slices.Sort(r.Deleted)
			if !slices.Equal(r.Deleted, c.wantDeleted) || r.Young != c.wantYoung || r.Listed != listed {
				t.Errorf("report %+v, want deleted %v, young %d, listed %d", r, c.wantDeleted, c.wantYoung, listed)
			}
			if c.dry && len(f.deleted) != 0 {
				t.Errorf("a dry sweep deleted %v", f.deleted)
			}
			if !c.dry && !slices.Equal(f.deleted, c.wantDeleted) {
				t.Errorf("deleted %v", f.deleted)
			}
		})
	}
}
