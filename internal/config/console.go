package config

import (
	"fmt"
	"time"
)

// Console configures the web console served under /console/.
type Console struct {
	// Disabled turns the console off (its paths answer 404).
	Disabled bool `yaml:"disabled"`
	// IdleTimeout ends a session unused this long (default 15m, from 1m
	// to 12h).
	IdleTimeout string `yaml:"idle_timeout"`
	// SessionLifetime ends a session this long after sign-in, however
	// busy (default 8h, from 5m to 24h). A session of temporary
	// credentials also ends when they expire.
	SessionLifetime string `yaml:"session_lifetime"`
	// AllowRoot lets the root (break-glass) key sign in. Default false:
	// the console is for IAM principals, whose policies limit it.
	AllowRoot bool `yaml:"allow_root"`
	// AllowPlainHTTP serves the console over plain HTTP on a listener
	// that is not a loopback address. Without TLS the console is served
	// only on loopback addresses, where the cookie does not cross a
	// network.
	AllowPlainHTTP bool `yaml:"allow_plain_http"`
}

func (c Console) validate() error {
	for _, d := range []struct {
		key, value string
		min, max   time.Duration
	}{{"console.idle_timeout", c.IdleTimeout, time.Minute, 12 * time.Hour}, {"console.session_lifetime", c.SessionLifetime, 5 * time.Minute, 24 * time.Hour}} {
		if d.value == "" {
			continue
		}
		if v, err := time.ParseDuration(d.value); err != nil || v < d.min || v > d.max {
			return fmt.Errorf("%s: %q must be a duration from %s to %s, such as 15m", d.key, d.value, d.min, d.max)
		}
	}
	return nil
}

// IdleTimeoutDuration is IdleTimeout parsed (Validate checks it), or 15m.
func (c Console) IdleTimeoutDuration() time.Duration {
	if d, err := time.ParseDuration(c.IdleTimeout); err == nil {
		return d
	}
	return 15 * time.Minute
}

// SessionLifetimeDuration is SessionLifetime parsed, or 8h.
func (c Console) SessionLifetimeDuration() time.Duration {
	if d, err := time.ParseDuration(c.SessionLifetime); err == nil {
		return d
	}
	return 8 * time.Hour
}
