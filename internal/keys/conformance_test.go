package keys_test

import (
	"crypto/rand"
	"testing"

	"github.com/signet/signet/internal/keys"
	"github.com/signet/signet/internal/keys/keystest"
)

func TestSoftwareConformance(t *testing.T) {
	keystest.Run(t, func(t *testing.T) keystest.Opener {
		master := make([]byte, keys.MasterKeySize)
		if _, err := rand.Read(master); err != nil {
			t.Fatal(err)
		}
		store := keys.NewMemoryStore()
		return func(t *testing.T) keys.KeyStore {
			ks, err := keys.NewSoftware(master, store)
			if err != nil {
				t.Fatal(err)
			}
			return ks
		}
	})
}
