package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"time"
)

// Nodes sharing a database announce themselves with a heartbeat; the
// number alive divides the rate limits among them (each node's buckets
// refill at rate/N), which gives a key the configured rate in all when a
// balancer spreads its requests over the nodes. It is an approximation:
// a key whose requests all reach one node gets rate/N there.

// heartbeatEvery is how often a node records that it is alive; one not
// seen for nodeWindow is no longer counted.
const (
	heartbeatEvery = 10 * time.Second
	nodeWindow     = 3 * heartbeatEvery
)

// newNodeID names this process among the nodes: the host and a random
// suffix.
func newNodeID() string {
	host, _ := os.Hostname()
	var b [6]byte
	rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}

// heartbeat records this node and counts the live ones (at least this
// one).
func (s *Server) heartbeat(ctx context.Context) {
	now := s.now()
	if err := s.db.Heartbeat(ctx, s.nodeID, s.started, now); err != nil {
		s.log.WarnContext(ctx, "failed to record the node's heartbeat", "err", err)
		return
	}
	n, err := s.db.LiveNodes(ctx, now.Add(-nodeWindow))
	if err != nil {
		s.log.WarnContext(ctx, "failed to count the live nodes", "err", err)
		return
	}
	if old := s.liveNodes.Swap(int64(max(n, 1))); old != int64(max(n, 1)) {
		s.log.InfoContext(ctx, "nodes sharing the database", "live", max(n, 1), "node", s.nodeID)
	}
}

// runHeartbeat keeps the heartbeat until ctx ends (nodes sharing a
// database only).
func (s *Server) runHeartbeat(ctx context.Context) {
	if !s.shared() {
		return
	}
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// Stopping: the others count one node fewer at once (a
			// rolling restart would otherwise count it twice for 30 s).
			s.db.ForgetNode(context.WithoutCancel(ctx), s.nodeID)
			return
		case <-t.C:
			s.heartbeat(ctx)
		}
	}
}

// LiveNodes is how many nodes share the rate limits (1 alone).
func (s *Server) LiveNodes() int { return int(max(s.liveNodes.Load(), 1)) }

// Heartbeat records this node now and recounts the live nodes, as the
// periodic heartbeat does (for tests).
func (s *Server) Heartbeat(ctx context.Context) { s.heartbeat(ctx) }
