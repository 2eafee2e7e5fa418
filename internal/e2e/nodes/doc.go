// Package nodes holds end-to-end tests of several `signet serve`
// processes sharing one PostgreSQL database and one S3-compatible object
// store, one of which is killed with SIGKILL in the middle of work.
package nodes
