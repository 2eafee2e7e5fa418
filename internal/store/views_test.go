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
	var names []string
	typ := reflect.TypeOf(&store.DB{})
	for i := range typ.NumMethod() {
		names = append(names, typ.Method(i).Name)
	}
	sort.Strings(names)
	if len(names) > 16 {
		t.Errorf("*store.DB has %d methods, a domain's belong on its view: %v", len(names), names)
	}
	for _, view := range []any{&store.Signing{}, &store.Lambda{}, &store.IAM{}, &store.Objects{}, &store.KMS{}} {
		for _, name := range []string{"Close", "Migrate", "Initialize", "Notify"} {
			if _, ok := reflect.TypeOf(view).MethodByName(name); ok {
				t.Errorf("%T has %s: that concerns the whole database, not a view", view, name)
			}
		}
	}
}
