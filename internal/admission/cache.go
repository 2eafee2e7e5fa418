package admission

import (
	"strings"
	"sync"
	"time"
)

// Cache keeps verdicts by policy version and image digest until they
// stop holding: a positive verdict until its signature or certificate
// expires, a negative one for NegativeTTL (an image may be signed later,
// by a signer Signet does not hear of), and either until a revocation
// it rests on (Evict) or a new Signet signature of the digest
// (EvictDigest). Transient failures are never put in it. It is safe for
// concurrent use.
type Cache struct {
	// NegativeTTL is how long a refusal is kept (DefaultNegativeTTL when
	// zero).
	NegativeTTL time.Duration
	// Max bounds the entries (DefaultCacheSize when zero); a full cache
	// drops what has expired, then everything.
	Max int
	Now func() time.Time

	mu       sync.Mutex
	gen      uint64 // counts the evictions and purges (see PutAt)
	entries  map[cacheKey]cacheEntry
	byDep    map[string]map[cacheKey]struct{}
	byDigest map[string]map[cacheKey]struct{}
}

// Cache defaults.
const (
	DefaultNegativeTTL = 30 * time.Second
	DefaultCacheSize   = 100000
)

type cacheKey struct{ policy, digest string }

type cacheEntry struct {
	v       Verdict
	expires time.Time
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Get returns the verdict for a digest reference under a policy version,
// if one holds.
func (c *Cache) Get(policy, digest string) (Verdict, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[cacheKey{policy, digest}]
	if !ok || !c.now().Before(e.expires) {
		return Verdict{}, false
	}
	return e.v, true
}

// Gen returns the cache's generation: PutAt with it keeps a verdict only
// if nothing was evicted or purged since.
func (c *Cache) Gen() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// PutAt keeps a verdict made after Gen returned gen, unless an eviction
// or a purge came since: a verification that read the state before a
// revocation must not cache its verdict after the revocation dropped the
// others.
func (c *Cache) PutAt(policy, digest string, v Verdict, gen uint64) {
	c.put(policy, digest, v, &gen)
}

// Put keeps a verdict (never a transient one).
func (c *Cache) Put(policy, digest string, v Verdict) { c.put(policy, digest, v, nil) }

func (c *Cache) put(policy, digest string, v Verdict, gen *uint64) {
	if v.Transient {
		return
	}
	now := c.now()
	expires := v.Expires
	if !v.Allowed || expires.IsZero() {
		ttl := c.NegativeTTL
		if ttl == 0 {
			ttl = DefaultNegativeTTL
		}
		if e := now.Add(ttl); !v.Allowed || expires.IsZero() || e.Before(expires) {
			expires = e
		}
	}
	if !now.Before(expires) {
		return
	}
	k := cacheKey{policy, digest}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != nil && *gen != c.gen {
		return
	}
	if c.entries == nil {
		c.entries, c.byDep, c.byDigest = map[cacheKey]cacheEntry{}, map[string]map[cacheKey]struct{}{}, map[string]map[cacheKey]struct{}{}
	}
	max := c.Max
	if max == 0 {
		max = DefaultCacheSize
	}
	if _, ok := c.entries[k]; !ok && len(c.entries) >= max {
		for ek, e := range c.entries {
			if !now.Before(e.expires) {
				c.drop(ek)
			}
		}
		if len(c.entries) >= max {
			clear(c.entries)
			clear(c.byDep)
			clear(c.byDigest)
		}
	}
	c.drop(k)
	c.entries[k] = cacheEntry{v, expires}
	for _, d := range v.Deps {
		add(c.byDep, d, k)
	}
	add(c.byDigest, bareDigest(digest), k)
}

func add(m map[string]map[cacheKey]struct{}, s string, k cacheKey) {
	if m[s] == nil {
		m[s] = map[cacheKey]struct{}{}
	}
	m[s][k] = struct{}{}
}

// drop removes one entry and its index entries; mu is held.
func (c *Cache) drop(k cacheKey) {
	e, ok := c.entries[k]
	if !ok {
		return
	}
	delete(c.entries, k)
	for _, d := range e.v.Deps {
		delete(c.byDep[d], k)
		if len(c.byDep[d]) == 0 {
			delete(c.byDep, d)
		}
	}
	d := bareDigest(k.digest)
	delete(c.byDigest[d], k)
	if len(c.byDigest[d]) == 0 {
		delete(c.byDigest, d)
	}
}

// Evict drops every verdict resting on any of deps (signing job and
// profile version ARNs) and returns the digests it dropped verdicts of.
func (c *Cache) Evict(deps ...string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	seen := map[string]bool{}
	var digests []string
	for _, d := range deps {
		for k := range c.byDep[d] {
			c.drop(k)
			if !seen[k.digest] {
				seen[k.digest] = true
				digests = append(digests, k.digest)
			}
		}
	}
	return digests
}

// EvictDigest drops every verdict on a digest (sha256:…, in any
// repository): it was just signed, so a refusal may no longer hold.
func (c *Cache) EvictDigest(digest string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k := range c.byDigest[bareDigest(digest)] {
		c.drop(k)
	}
}

// Purge drops every verdict.
func (c *Cache) Purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
	clear(c.byDep)
	clear(c.byDigest)
}

// Len is the number of entries (expired ones included until dropped).
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// bareDigest is the digest of a digest reference (host/repo@sha256:…).
func bareDigest(ref string) string {
	if _, d, ok := strings.Cut(ref, "@"); ok {
		return d
	}
	return ref
}
