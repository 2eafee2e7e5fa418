package store_test

import (
	"reflect"
	"sort"
	"testing"

	"github.com/signet/signet/internal/store"
)

// TestViewsStayNarrow: the database type keeps what concerns the whole
// database; each domain's methods live on its view (db.Signing, db.IAM,
// …), so a service given its view sees nothing of the others'.
func TestViewsStayNarrow(t *testing.T) {
	// What concerns the whole database, on purpose: add a method here
	// only if it belongs to no domain.
	whole := map[string]bool{
		"Close": true, "Ping": true, "Engine": true, "Statements": true, "Contention": true, // the connection
		"Migrate": true, "Pending": true, // the schema
		"Setting": true, "AddSettings": true, "Initialize": true, // the installation
		"Notify": true, "Listen": true, "Heartbeat": true, "LiveNodes": true, "ForgetNode": true, "AcquireLease": true, "ReleaseLease": true, "LeaseHeld": true, // the nodes
		"ReferencedBlobs": true, // what every domain's metadata refers to in the object store
	}
	typ := reflect.TypeOf(&store.DB{})
	var extra []string
	for i := range typ.NumMethod() {
		if name := typ.Method(i).Name; !whole[name] {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("*store.DB has methods of a domain, which belong on its view: %v", extra)
	}
	for _, view := range []any{&store.Signing{}, &store.Lambda{}, &store.IAM{}, &store.Objects{}, &store.KMS{}, &store.Console{}} {
		for _, name := range []string{"Close", "Migrate", "Initialize", "Notify"} {
			if _, ok := reflect.TypeOf(view).MethodByName(name); ok {
				t.Errorf("%T has %s: that concerns the whole database, not a view", view, name)
			}
		}
	}
}
