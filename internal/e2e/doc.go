// Package e2e holds end-to-end tests that drive `signet serve` with real clients: the AWS CLI and the signet binary.
package e2e
