package functions

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/signet/signet/internal/deploygate"
	"github.com/signet/signet/internal/errs"
)

// LayerVersion is a published layer version.
type LayerVersion struct {
	Name        string
	Version     int
	Description string
	Runtimes    []string
	CodeSHA256  string
	CodeSize    int64
	CodePath    string
	CreatedAt   time.Time
}

// LayerStore persists layer versions.
type LayerStore interface {
	// PublishLayer stores l as the next version of its layer and returns it.
	PublishLayer(ctx context.Context, l LayerVersion) (LayerVersion, error)
	// Layer returns a layer version, or ErrNotFound.
	Layer(ctx context.Context, name string, version int) (LayerVersion, error)
}

// CodeReader reads stored packages.
type CodeReader interface {
	NewRangeReader(ctx context.Context, path string, off, length int64) (io.ReadCloser, error)
}

var layerNameRE = regexp.MustCompile(`^[a-zA-Z0-9-_]{1,64}$`)

// LayerARN is the ARN of a layer version.
func (s *Service) LayerARN(name string, version int) string {
	return fmt.Sprintf("arn:%s:lambda:%s:%s:layer:%s:%d", s.Account.Partition, s.Account.Region, s.Account.ID, name, version)
}

// PublishLayer publishes a layer version. Layers are checked against a
// function's code signing config when the function uses them.
func (s *Service) PublishLayer(ctx context.Context, name, description string, runtimes []string, zip []byte) (LayerVersion, error) {
	if !layerNameRE.MatchString(name) {
		return LayerVersion{}, errs.Value(ErrInvalid, "layerName", name, "must satisfy regular expression pattern: [a-zA-Z0-9-_]+")
	}
	if len(zip) == 0 || len(zip) > MaxZipSize || !bytes.HasPrefix(zip, []byte("PK")) {
		return LayerVersion{}, invalid("the layer content must be a zip file of at most %d bytes", MaxZipSize)
	}
	if err := s.checkPackage(zip); err != nil {
		return LayerVersion{}, err
	}
	sum := sha256.Sum256(zip)
	path := fmt.Sprintf("layers/%s/%x-%s", name, sum[:8], uuid.NewString())
	if _, err := s.Code.Write(ctx, path, bytes.NewReader(zip)); err != nil {
		return LayerVersion{}, fmt.Errorf("failed to store the layer: %w", err)
	}
	l, err := s.Layers.PublishLayer(ctx, LayerVersion{Name: name, Description: description, Runtimes: runtimes,
		CodeSHA256: base64.StdEncoding.EncodeToString(sum[:]), CodeSize: int64(len(zip)), CodePath: path, CreatedAt: s.now()})
	if err != nil {
		s.Code.Delete(ctx, path)
	}
	return l, err
}

// Layer returns a layer version by name and number.
func (s *Service) Layer(ctx context.Context, name, version string) (LayerVersion, error) {
	n, err := strconv.Atoi(version)
	if err != nil || n < 1 {
		return LayerVersion{}, errs.Value(ErrInvalid, "versionNumber", version, "must be a positive number")
	}
	l, err := s.Layers.Layer(ctx, name, n)
	if errors.Is(err, ErrNotFound) {
		return l, &errs.Error{Kind: ErrNotFound, Msg: "The resource you requested does not exist."}
	}
	return l, err
}

// layerFromARN resolves a layer version ARN of this account.
func (s *Service) layerFromARN(ctx context.Context, layerARN string) (LayerVersion, error) {
	prefix := fmt.Sprintf("arn:%s:lambda:%s:%s:layer:", s.Account.Partition, s.Account.Region, s.Account.ID)
	rest, ok := strings.CutPrefix(layerARN, prefix)
	name, version, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 {
		return LayerVersion{}, invalid("Layer version %s does not exist: layers are ARNs of this account's layer versions (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION)", layerARN)
	}
	l, err := s.Layer(ctx, name, version)
	if errors.Is(err, ErrNotFound) {
		return l, invalid("Layer version %s does not exist.", layerARN)
	}
	return l, err
}

// LayerUse is a layer a function uses, with what its signature says.
type LayerUse struct {
	ARN                      string
	CodeSize                 int64
	SigningProfileVersionARN string
	SigningJobARN            string
}

// checkLayers runs every layer through the gate of the function's code
// signing config (cfg nil: no check) and returns what GetFunction reports.
func (s *Service) checkLayers(ctx context.Context, name string, layerARNs []string, cfg *deploygate.Config) ([]LayerUse, error) {
	var out []LayerUse
	for _, a := range layerARNs {
		l, err := s.layerFromARN(ctx, a)
		if err != nil {
			return nil, err
		}
		use := LayerUse{ARN: a, CodeSize: l.CodeSize}
		if cfg != nil {
			rc, err := s.CodeReader.NewRangeReader(ctx, l.CodePath, 0, -1)
			if err != nil {
				return nil, err
			}
			zip, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return nil, err
			}
			d, err := s.check(ctx, zip, cfg)
			if err != nil {
				return nil, err
			}
			if !d.Allowed {
				return nil, s.refused(ctx, name, cfg, d)
			}
			if d.Warned && s.OnWarning != nil {
				s.OnWarning(ctx, name, d)
			}
			use.SigningProfileVersionARN, use.SigningJobARN = d.ProfileVersionARN, d.JobARN
		}
		out = append(out, use)
	}
	return out, nil
}

// LayerCode returns the layer version a layer version ARN names, with
// where its package is stored.
func (s *Service) LayerCode(ctx context.Context, layerARN string) (LayerVersion, error) {
	return s.layerFromARN(ctx, layerARN)
}
