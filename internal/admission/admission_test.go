package admission

import (
	"slices"
	"testing"
	"time"
)

func TestNormalizeImage(t *testing.T) {
	cases := map[string]string{
		"nginx":                                "docker.io/library/nginx:latest",
		"nginx:1.27":                           "docker.io/library/nginx:1.27",
		"team/app":                             "docker.io/team/app:latest",
		"ghcr.io/team/app:v1":                  "ghcr.io/team/app:v1",
		"localhost/app":                        "localhost/app:latest",
		"localhost:5000/app:v2":                "localhost:5000/app:v2",
		"registry.example:5000/a/b/c:v1":       "registry.example:5000/a/b/c:v1",
		"registry.example:5000/app@sha256:abc": "registry.example:5000/app@sha256:abc",
		"nginx:1.27@sha256:abc":                "docker.io/library/nginx:1.27@sha256:abc",
	}
	for in, want := range cases {
		if got, err := NormalizeImage(in); err != nil || got != want {
			t.Errorf("NormalizeImage(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", " nginx", "nginx:", "app@sha256", "registry.example:5000/", "a b"} {
		if got, err := NormalizeImage(bad); err == nil {
			t.Errorf("NormalizeImage(%q) = %q, want an error", bad, got)
		}
	}
}

func FuzzNormalizeImage(f *testing.F) {
	for _, s := range []string{"nginx", "registry.example:5000/team/app:v1", "a@sha256:00", "localhost:5000/x", "::", "a/b/c/d:e@f:g"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeImage(s)
		if err != nil {
			return
		}
		// Normalizing is idempotent, and the repository is a prefix.
		if n2, err := NormalizeImage(n); err != nil || n2 != n {
			t.Fatalf("NormalizeImage(%q) = %q, again %q, %v", s, n, n2, err)
		}
		if r := repository(n); r == "" || len(r) >= len(n) || n[:len(r)] != r {
			t.Fatalf("repository(%q) = %q", n, r)
		}
	})
}

func TestPolicyCovers(t *testing.T) {
	p := &Policy{Namespaces: []string{"prod-*", "payments"}, Images: []string{"registry.example:5000/team/*", "docker.io/library/nginx"}}
	cases := []struct {
		ns, image string
		want      bool
	}{
		{"prod-eu", "registry.example:5000/team/app:v1", true},
		{"prod-eu", "registry.example:5000/team/deep/app:v1", true},
		{"payments", "docker.io/library/nginx:1.27", true},
		{"payments", "docker.io/library/redis:7", false},
		{"dev", "registry.example:5000/team/app:v1", false},
		{"", "registry.example:5000/team/app@sha256:00", false}, // ECS tasks: only policies without namespaces
		{"prod-eu", "registry.example:5000/other/app:v1", false},
	}
	for _, c := range cases {
		if got := p.Covers(c.ns, c.image); got != c.want {
			t.Errorf("Covers(%q, %q) = %v, want %v", c.ns, c.image, got, c.want)
		}
	}
	if !(&Policy{}).Covers("any", "x.io/y:z") {
		t.Error("a policy without globs covers everything")
	}
}

func TestCache(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	c := &Cache{NegativeTTL: 30 * time.Second, Now: func() time.Time { return now }}
	ok := Verdict{Allowed: true, Deps: []string{"job-1", "version-1"}, Expires: now.Add(time.Hour)}
	c.Put("p1", "reg/app@sha256:aa", ok)
	c.Put("p2", "reg/app@sha256:aa", ok)
	c.Put("p1", "reg/other@sha256:bb", Verdict{Allowed: true, Deps: []string{"job-2", "version-1"}, Expires: now.Add(time.Hour)})
	c.Put("p1", "reg/bad@sha256:cc", Verdict{Rule: RuleUnsigned})
	c.Put("p1", "reg/down@sha256:dd", Verdict{Transient: true})
	if _, hit := c.Get("p1", "reg/down@sha256:dd"); hit {
		t.Error("a transient failure was cached")
	}
	if v, hit := c.Get("p1", "reg/app@sha256:aa"); !hit || !v.Allowed {
		t.Fatalf("positive verdict: %+v %v", v, hit)
	}
	if _, hit := c.Get("p3", "reg/app@sha256:aa"); hit {
		t.Error("a verdict of one policy version answered for another")
	}
	// The refusal lasts NegativeTTL, the acceptance until it expires.
	now = now.Add(31 * time.Second)
	if _, hit := c.Get("p1", "reg/bad@sha256:cc"); hit {
		t.Error("a refusal outlived the negative TTL")
	}
	if _, hit := c.Get("p1", "reg/app@sha256:aa"); !hit {
		t.Error("an acceptance ended before its expiry")
	}
	// Revoking job-1 drops both policies' verdicts on aa, not bb.
	if got := c.Evict("job-1"); !slices.Equal(got, []string{"reg/app@sha256:aa"}) {
		t.Errorf("Evict(job-1) = %v", got)
	}
	for _, p := range []string{"p1", "p2"} {
		if _, hit := c.Get(p, "reg/app@sha256:aa"); hit {
			t.Errorf("%s: the verdict survived the revocation of its job", p)
		}
	}
	if _, hit := c.Get("p1", "reg/other@sha256:bb"); !hit {
		t.Error("an unrelated verdict was dropped")
	}
	// A profile version revocation drops what rests on the version.
	c.Evict("version-1")
	if _, hit := c.Get("p1", "reg/other@sha256:bb"); hit {
		t.Error("the verdict survived the revocation of its profile version")
	}
	// A new signature of a digest drops its refusal in any repository.
	c.Put("p1", "reg/bad@sha256:cc", Verdict{Rule: RuleUnsigned})
	c.EvictDigest("sha256:cc")
	if _, hit := c.Get("p1", "reg/bad@sha256:cc"); hit {
		t.Error("a refusal survived a new signature of its digest")
	}
	// Expired acceptances end on their own.
	c.Put("p1", "reg/app@sha256:aa", Verdict{Allowed: true, Expires: now.Add(time.Minute)})
	now = now.Add(2 * time.Minute)
	if _, hit := c.Get("p1", "reg/app@sha256:aa"); hit {
		t.Error("an acceptance outlived its signature")
	}
	if c.Len() > 1 {
		t.Errorf("the indexes kept %d entries", c.Len())
	}
}

func TestCacheBounded(t *testing.T) {
	now := time.Now()
	c := &Cache{Max: 10, Now: func() time.Time { return now }}
	for i := range 25 {
		c.Put("p", "reg/app@sha256:"+string(rune('a'+i)), Verdict{Allowed: true, Deps: []string{"job"}, Expires: now.Add(time.Hour)})
		if c.Len() > 10 {
			t.Fatalf("%d entries, max 10", c.Len())
		}
	}
}

func TestParseWorkload(t *testing.T) {
	cases := []struct {
		group, version, kind, obj string
		images                    []string
		paths                     []string
		judged                    bool
	}{
		{"", "v1", "Pod", `{"spec":{"initContainers":[{"image":"a"}],"containers":[{"image":"b"},{"image":"c"}],"ephemeralContainers":[{"name":"d","image":"d"}]}}`,
			[]string{"a", "b", "c", "d"}, []string{"/spec/initContainers/0/image", "/spec/containers/0/image", "/spec/containers/1/image", "/spec/ephemeralContainers/0/image"}, true},
		{"apps", "v1", "StatefulSet", `{"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}`, []string{"x"}, []string{"/spec/template/spec/containers/0/image"}, true},
		{"apps", "v1", "DaemonSet", `{"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}`, []string{"x"}, nil, true},
		{"apps", "v1", "ReplicaSet", `{"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}`, []string{"x"}, nil, true},
		{"batch", "v1", "Job", `{"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}`, []string{"x"}, nil, true},
		{"", "v1", "ReplicationController", `{"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}`, []string{"x"}, nil, true},
		{"", "v1", "ConfigMap", `{"data":{}}`, nil, nil, false},
	}
	for _, c := range cases {
		w, judged, err := parseWorkload(c.group, c.version, c.kind, []byte(c.obj))
		if err != nil || judged != c.judged {
			t.Errorf("%s: judged %v, %v", c.kind, judged, err)
			continue
		}
		if !judged {
			continue
		}
		var got, paths []string
		for _, ct := range w.Containers {
			got, paths = append(got, ct.Image), append(paths, ct.Path)
		}
		if !slices.Equal(got, c.images) || c.paths != nil && !slices.Equal(paths, c.paths) {
			t.Errorf("%s: images %v at %v, want %v at %v", c.kind, got, paths, c.images, c.paths)
		}
	}
	if _, _, err := parseWorkload("", "v1", "Pod", []byte(`{"spec":{"containers":"x"}}`)); err == nil {
		t.Error("a malformed Pod was accepted")
	}
}

func FuzzParseWorkload(f *testing.F) {
	f.Add("apps/v1/Deployment", []byte(`{"metadata":{"annotations":{"signet.io/break-glass":"x"}},"spec":{"template":{"spec":{"containers":[{"image":"a"}]}}}}`))
	f.Add("/v1/Pod", []byte(`{"spec":{"containers":[{"image":"nginx"}],"ephemeralContainers":[{"image":"busybox"}]}}`))
	f.Add("batch/v1/CronJob", []byte(`{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"initContainers":[{"image":"i"}]}}}}}}`))
	f.Fuzz(func(t *testing.T, gvk string, obj []byte) {
		parser, ok := kinds[gvk]
		if !ok {
			return
		}
		w, err := parser(obj)
		if err != nil {
			return
		}
		for _, c := range w.Containers {
			if c.Path == "" || c.Path[0] != '/' {
				t.Fatalf("container %+v has no JSON pointer", c)
			}
		}
		w.breakGlass()
	})
}

// TestCachePutAfterEviction: a verdict made by a verification that began
// before an eviction or a purge (a revocation) is not kept; one made
// after is.
func TestCachePutAfterEviction(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	allowed := Verdict{Allowed: true, Expires: now.Add(time.Hour), Deps: []string{"arn:job/1"}}
	cases := []struct {
		name   string
		during func(c *Cache)
		kept   bool
	}{
		{"ok/nothing-meanwhile", func(*Cache) {}, true},
		{"fail/evicted-meanwhile", func(c *Cache) { c.Evict("arn:job/other") }, false},
		{"fail/purged-meanwhile", func(c *Cache) { c.Purge() }, false},
		{"fail/digest-signed-meanwhile", func(c *Cache) { c.EvictDigest("sha256:00") }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &Cache{Now: func() time.Time { return now }}
			gen := c.Gen()
			tc.during(c)
			c.PutAt("p1", "reg/app@sha256:aa", allowed, gen)
			if _, ok := c.Get("p1", "reg/app@sha256:aa"); ok != tc.kept {
				t.Errorf("kept = %v, want %v", ok, tc.kept)
			}
		})
	}
}
