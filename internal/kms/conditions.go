package kms

import (
	"context"
	"slices"
	"strings"
)

// ConditionKeys are the condition keys of a use of a key with an
// encryption context (lowercased, as policy evaluation reads them):
// kms:EncryptionContext:KEY for each pair, whose KEY matches whatever
// its case, and kms:EncryptionContextKeys, the context's keys as given.
// A use without a context has neither.
func ConditionKeys(encCtx map[string]string) map[string][]string {
	keys := map[string][]string{}
	names := make([]string, 0, len(encCtx))
	for k, v := range encCtx {
		keys["kms:encryptioncontext:"+strings.ToLower(k)] = []string{v}
		names = append(names, k)
	}
	slices.Sort(names)
	if len(names) > 0 {
		keys["kms:encryptioncontextkeys"] = names
	}
	return keys
}

// AliasKeys adds kms:ResourceAliases, the aliases of a key (by id), to
// condition keys (which may be nil), and returns them. In AWS an alias
// in a policy's Resource names the alias, never its key: this key is
// how a policy decides by alias.
func (s *Service) AliasKeys(ctx context.Context, keyID string, keys map[string][]string) (map[string][]string, error) {
	aliases, err := s.Store.ListAliases(ctx, keyID)
	if err != nil || len(aliases) == 0 {
		return keys, err
	}
	if keys == nil {
		keys = map[string][]string{}
	}
	for _, a := range aliases {
		keys["kms:resourcealiases"] = append(keys["kms:resourcealiases"], a.Name)
	}
	return keys, nil
}
