package server

import (
	"context"
	"errors"
	"io"

	"github.com/signet/signet/internal/objects"
	"github.com/signet/signet/internal/signing"
)

// signingObjects adapts the object store to what signing jobs use.
type signingObjects struct{ o *objects.Service }

var _ signing.Objects = signingObjects{}

// notFoundError marks an object-store error that means "absent".
type notFoundError struct{ error }

func (notFoundError) NotFound() bool  { return true }
func (e notFoundError) Unwrap() error { return e.error }

func mapObjectsErr(err error) error {
	if errors.Is(err, objects.ErrNoSuchBucket) || errors.Is(err, objects.ErrNoSuchKey) || errors.Is(err, objects.ErrNoSuchVersion) {
		return notFoundError{err}
	}
	return err
}

func (a signingObjects) Versioning(ctx context.Context, bucket string) (string, error) {
	st, err := a.o.Versioning(ctx, bucket)
	return st, mapObjectsErr(err)
}

func (a signingObjects) OpenSource(ctx context.Context, bucket, key, version string) (signing.Source, error) {
	obj, err := a.o.OpenVersion(ctx, bucket, key, version)
	if err != nil {
		return nil, mapObjectsErr(err)
	}
	return obj, nil
}

func (a signingObjects) PutSigned(ctx context.Context, bucket, key string, r io.Reader, md5sum []byte) (string, error) {
	info, err := a.o.PutObject(ctx, objects.PutInput{Bucket: bucket, Key: key, Body: r, ContentType: "application/zip", KnownMD5: md5sum})
	if err != nil {
		return "", mapObjectsErr(err)
	}
	return info.VersionID, nil
}

func (a signingObjects) DeleteAll(ctx context.Context, bucket, key string) error {
	err := a.o.DeleteAllVersions(ctx, bucket, key)
	if errors.Is(err, objects.ErrNoSuchBucket) || errors.Is(err, objects.ErrNoSuchKey) {
		return nil
	}
	return err
}
