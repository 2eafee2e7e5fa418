package invoke

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The Parameters and Secrets extension's cache lives in each
// environment's init process, as AWS's extension lives in the
// environment: a cached read does not leave the sandbox. Signet evicts an
// entry from every environment at once when its parameter or secret is
// written (Pool.Evict), which AWS's extension does not do.

// ExtensionSettings are an environment's extension settings, from the
// function's variables.
type ExtensionSettings struct {
	Enabled       bool
	Size          int
	SSMTTL, SMTTL time.Duration
}

// ParseExtensionSettings reads PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED
// (default true), PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE (0–1000,
// default 1000), SSM_PARAMETER_STORE_TTL and SECRETS_MANAGER_TTL (0–300
// seconds, default 300), as AWS's extension does.
func ParseExtensionSettings(vars map[string]string) (ExtensionSettings, error) {
	st := ExtensionSettings{Enabled: true, Size: 1000, SSMTTL: 300 * time.Second, SMTTL: 300 * time.Second}
	if v, ok := vars["PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return st, fmt.Errorf("PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED=%q is not true or false", v)
		}
		st.Enabled = b
	}
	if v, ok := vars["PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1000 {
			return st, fmt.Errorf("PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE=%q is not a number from 0 to 1000", v)
		}
		st.Size = n
	}
	for _, x := range []struct {
		name string
		d    *time.Duration
	}{{"SSM_PARAMETER_STORE_TTL", &st.SSMTTL}, {"SECRETS_MANAGER_TTL", &st.SMTTL}} {
		if v, ok := vars[x.name]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 300 {
				return st, fmt.Errorf("%s=%q is not a number of seconds from 0 to 300", x.name, v)
			}
			*x.d = time.Duration(n) * time.Second
		}
	}
	if st.Size == 0 {
		st.Enabled = false
	}
	return st, nil
}

// ExtensionResourceHeader names, in a relayed extension answer, the ARN
// of the parameter or secret it is about (the init process keeps it with
// the cached answer for eviction and removes the header).
const ExtensionResourceHeader = "X-Signet-Resource"

// extensionCache is one environment's cache.
type extensionCache struct {
	mu      sync.Mutex
	now     func() time.Time
	size    int
	entries map[string]extensionEntry
	// evictions counts evictions: an answer fetched across one may be
	// stale and is not cached (see generation and put).
	evictions uint64
}

type extensionEntry struct {
	resource string
	body     []byte
	expires  time.Time
}

func newExtensionCache(size int, now func() time.Time) *extensionCache {
	return &extensionCache{now: now, size: size, entries: map[string]extensionEntry{}}
}

func (c *extensionCache) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !c.now().Before(e.expires) {
		delete(c.entries, key)
		return nil, false
	}
	return e.body, true
}

// generation is the eviction count before a miss is fetched.
func (c *extensionCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.evictions
}

// put caches an answer fetched since generation gen, unless an eviction
// came meanwhile (the answer may predate the write it was for).
func (c *extensionCache) put(key, resource string, body []byte, ttl time.Duration, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.evictions != gen {
		return
	}
	now := c.now()
	if len(c.entries) >= c.size {
		// Full: expired entries go first, else the one expiring first.
		oldest := ""
		for k, x := range c.entries {
			if !now.Before(x.expires) {
				delete(c.entries, k)
			} else if oldest == "" || x.expires.Before(c.entries[oldest].expires) {
				oldest = k
			}
		}
		if len(c.entries) >= c.size && oldest != "" {
			delete(c.entries, oldest)
		}
	}
	c.entries[key] = extensionEntry{resource: resource, body: body, expires: now.Add(ttl)}
}

// evict drops the entries about a resource; "ssm:*" drops every
// parameter.
func (c *extensionCache) evict(resource string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evictions++
	for k, e := range c.entries {
		if e.resource == resource || resource == "*" || resource == "ssm:*" && strings.Contains(e.resource, ":ssm:") {
			delete(c.entries, k)
		}
	}
}

// evictHeader is the header of frameEvict.
type evictHeader struct {
	Resource string `json:"resource"`
}

// Evict drops what every execution environment's extension cache holds
// about a parameter or secret (its ARN; "ssm:*" for every parameter, "*"
// for everything).
func (p *Pool) Evict(resource string) {
	p.mu.Lock()
	var all []*instance
	for _, fi := range p.fns {
		all = append(all, fi.idle...)
	}
	for _, running := range p.running {
		for in := range running {
			all = append(all, in)
		}
	}
	p.mu.Unlock()
	for _, in := range all {
		if in.environment.Credentials.SessionToken == "" {
			continue
		}
		in.wmu.Lock()
		writeFrame(in.sb.Control, frameEvict, evictHeader{Resource: resource}, nil)
		in.wmu.Unlock()
	}
}
