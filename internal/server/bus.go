package server

import (
	"context"
	"encoding/json"
	"time"
)

// Nodes sharing a PostgreSQL database tell each other what to drop from
// their caches: PostgreSQL NOTIFY on one channel, which every node
// LISTENs to. A node that loses the connection may miss messages, so on
// each (re)connection it drops every cache. As a bound on what a missed
// or late message can cost, cached access keys and identity resolutions
// are also read again after cacheMaxAge.

// busChannel is the notification channel.
const busChannel = "signet_invalidate"

// cacheMaxAge bounds how long a node uses a cached access key or policy
// resolution when nodes share the database.
const cacheMaxAge = 5 * time.Second

// Kinds of bus messages.
const (
	busKey        = "key"        // an access key was deleted: Args[0]
	busIAM        = "iam"        // an identity or policy changed
	busRevocation = "revocation" // a revocation: Args are what it revokes (job and profile version ARNs)
	busSigned     = "signed"     // a digest was signed: Args[0]
	busEvict      = "evict"      // a parameter or secret changed: Args[0] (an ARN, or ssm:*)
)

type busMessage struct {
	Kind string   `json:"k"`
	Args []string `json:"a,omitempty"`
}

// publish tells the other nodes; without a shared database, nothing.
func (s *Server) publish(ctx context.Context, kind string, args ...string) {
	if !s.shared() || s.deaf {
		return
	}
	b, _ := json.Marshal(busMessage{Kind: kind, Args: args})
	if len(b) > 7000 {
		// Too long for a notification: the others drop everything of
		// the kind.
		b, _ = json.Marshal(busMessage{Kind: kind})
	}
	if err := s.db.Notify(context.WithoutCancel(ctx), busChannel, string(b)); err != nil {
		// The others' caches expire within cacheMaxAge anyway.
		s.log.WarnContext(ctx, "failed to tell the other nodes of a change", "kind", kind, "err", err)
	}
}

// listenBus applies the other nodes' messages until ctx ends.
func (s *Server) listenBus(ctx context.Context) {
	if !s.shared() || s.deaf {
		return
	}
	s.db.Listen(ctx, busChannel, s.dropCaches, func(payload string) {
		var m busMessage
		if err := json.Unmarshal([]byte(payload), &m); err != nil {
			s.log.WarnContext(ctx, "ignored a malformed message from another node", "err", err)
			return
		}
		s.applyBus(ctx, m)
	})
}

// applyBus drops what a message says changed. A node gets its own
// messages too: dropping again is harmless.
func (s *Server) applyBus(ctx context.Context, m busMessage) {
	arg := ""
	if len(m.Args) > 0 {
		arg = m.Args[0]
	}
	switch m.Kind {
	case busKey:
		if arg != "" {
			s.keyring.Forget(arg)
		}
	case busIAM:
		s.IAM.Invalidate()
	case busRevocation:
		s.Profiles.ForgetResponses()
		if s.admission != nil && s.admission.Cache != nil {
			if len(m.Args) == 0 {
				s.admission.Cache.Purge()
			} else {
				s.admission.Cache.Evict(m.Args...)
			}
		}
	case busSigned:
		if s.admission != nil && s.admission.Cache != nil && arg != "" {
			s.admission.Cache.EvictDigest(arg)
		}
	case busEvict:
		if arg == "" {
			arg = "*"
		}
		if s.Invoke != nil && s.Invoke.Pool != nil {
			s.Invoke.Pool.Evict(arg)
		}
	case busWorkloads:
		s.wakeWorkloads()
	case busWorkloadState:
		s.wakeWorkloadState()
	default:
		s.log.WarnContext(ctx, "ignored a message of an unknown kind from another node", "kind", m.Kind)
	}
}

// dropCaches drops everything a missed message could have changed.
func (s *Server) dropCaches() {
	s.keyring.Forget("")
	s.IAM.Invalidate()
	s.Profiles.ForgetResponses()
	if s.admission != nil && s.admission.Cache != nil {
		s.admission.Cache.Purge()
	}
	if s.Invoke != nil && s.Invoke.Pool != nil {
		s.Invoke.Pool.Evict("*")
	}
}
