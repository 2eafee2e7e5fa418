package signing

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/signet/signet/internal/notary"
	"github.com/signet/signet/internal/secretscan"
	"github.com/signet/signet/internal/signedzip"
)

// Source is an object version opened for random access.
type Source interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// Objects is the versioned object store as signing jobs use it.
type Objects interface {
	// Versioning returns the bucket's versioning status ("", "Enabled" or
	// "Suspended"); an error whose NotFound() is true if it does not exist.
	Versioning(ctx context.Context, bucket string) (string, error)
	// OpenSource opens one version of an object.
	OpenSource(ctx context.Context, bucket, key, version string) (Source, error)
	// PutSigned stores a new object from r, whose MD5 the caller has
	// computed as md5sum, and returns its version id.
	PutSigned(ctx context.Context, bucket, key string, r io.Reader, md5sum []byte) (string, error)
	// DeleteAll removes every version of an object, if any.
	DeleteAll(ctx context.Context, bucket, key string) error
}

// MaxObjectSize is the largest package StartSigningJob signs (the Lambda
// platform's maxSizeInMB).
const MaxObjectSize = 250 << 20

// SigningAgent identifies Signet in envelopes.
const SigningAgent = "Signet/1.0"

// Runner works the queue of signing jobs: it claims a job, signs the
// source object into a signed package at prefix + jobId + ".zip", and
// records the outcome. A worker renews its claim's lease while it works
// (every third of Lease), so that only a job whose worker died (its
// process, or its node) is claimed again, by any runner on the
// database, once the lease lapses; after MaxAttempts claims it fails.
type Runner struct {
	Service     *Service
	Workers     int           // default 2
	Lease       time.Duration // default 30s
	MaxAttempts int           // default 3
	Poll        time.Duration // default 1s
	MaxSize     int64         // default MaxObjectSize
	Log         *slog.Logger
	// Wakeup, when set, is how the Service tells the runner that a job
	// was queued (its Wake is the Wakeup's Notify); nil: Runner.Wake.
	Wakeup Wakeup

	once sync.Once
	wake chan struct{}
}

// Wakeup carries "a job was queued" from a Service to its Runner, so that
// each can be built whole knowing the other's end: hand NewWakeup's
// Notify to the Service as Wake, and the Wakeup to the Runner.
type Wakeup chan struct{}

// NewWakeup returns a Wakeup.
func NewWakeup() Wakeup { return make(Wakeup, 1) }

// Notify wakes the runner, or does nothing if a wake-up is pending.
func (w Wakeup) Notify() {
	select {
	case w <- struct{}{}:
	default:
	}
}

func (r *Runner) init() {
	r.once.Do(func() {
		r.wake = r.Wakeup
		if r.wake == nil {
			r.wake = make(chan struct{}, 1)
		}
		if r.Workers <= 0 {
			r.Workers = 2
		}
		if r.Lease <= 0 {
			r.Lease = 30 * time.Second
		}
		if r.MaxAttempts <= 0 {
			r.MaxAttempts = 3
		}
		if r.Poll <= 0 {
			r.Poll = time.Second
		}
	})
}

// Wake tells an idle worker that a job was queued.
func (r *Runner) Wake() {
	r.init()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run works jobs until ctx is done.
func (r *Runner) Run(ctx context.Context) {
	r.init()
	var wg sync.WaitGroup
	for range r.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.worker(ctx)
		}()
	}
	wg.Wait()
}

func (r *Runner) worker(ctx context.Context) {
	t := time.NewTicker(r.Poll)
	defer t.Stop()
	for ctx.Err() == nil {
		j, ok, err := r.Service.Jobs.ClaimJob(ctx, r.Service.now(), r.Lease)
		if err != nil {
			if ctx.Err() == nil {
				r.Log.ErrorContext(ctx, "failed to claim a signing job", "err", err)
			}
		}
		if ok {
			r.process(ctx, j)
			r.Wake() // there may be more
			continue
		}
		select {
		case <-ctx.Done():
		case <-r.wake:
		case <-t.C:
		}
	}
}

// jobFailure is a definitive failure: the job ends Failed with Reason
// (and the secret-scan findings that caused it, if any).
type jobFailure struct {
	Reason   string
	Findings []secretscan.Finding
}

func (f *jobFailure) Error() string { return f.Reason }

func failf(format string, args ...any) error {
	return &jobFailure{Reason: fmt.Sprintf(format, args...)}
}

func (r *Runner) process(ctx context.Context, j Job) {
	log := r.Log.With("job", j.ID, "attempt", j.Attempts)
	ctx, stop := r.holdLease(ctx, j, log)
	defer stop()
	var err error
	switch {
	case j.Attempts > r.MaxAttempts:
		err = failf("Signing did not complete after %d attempts", r.MaxAttempts)
	case j.Attempts > 1:
		// An earlier attempt's worker died, perhaps after it wrote the
		// signed package: withdraw that, so the job has one output.
		if err = r.Service.Objects.DeleteAll(ctx, j.DestBucket, SignedKey(j)); err == nil {
			err = r.sign(ctx, j)
		}
	default:
		err = r.sign(ctx, j)
	}
	var f *jobFailure
	switch {
	case err == nil:
		log.InfoContext(ctx, "signing job succeeded")
	case errors.As(err, &f):
		log.InfoContext(ctx, "signing job failed", "reason", f.Reason)
		if derr := r.Service.Objects.DeleteAll(ctx, j.DestBucket, SignedKey(j)); derr != nil {
			log.ErrorContext(ctx, "failed to withdraw the output of a failed job", "err", derr)
			return // retried when the lease lapses
		}
		ferr := r.Service.Jobs.FinishJob(ctx, j.ID, func(j *Job) error {
			j.Status, j.StatusReason, j.CompletedAt = JobFailed, f.Reason, r.Service.now()
			j.ScanFindings = f.Findings
			return nil
		})
		if ferr != nil {
			log.ErrorContext(ctx, "failed to record a job failure", "err", ferr)
		}
	default:
		// Transient: the lease lapses and another attempt follows.
		log.ErrorContext(ctx, "signing job attempt failed", "err", err)
	}
}

// holdLease renews the claim's lease until stop is called. If the claim
// is lost (the job was claimed again: this worker stalled for longer
// than the lease), the returned context is canceled, so that the work
// stops instead of finishing twice.
func (r *Runner) holdLease(ctx context.Context, j Job, log *slog.Logger) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(r.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			ok, err := r.Service.Jobs.RenewJobLease(ctx, j.ID, j.Attempts, r.Service.now().Add(r.Lease))
			if err != nil {
				log.WarnContext(ctx, "failed to renew a signing job's lease", "err", err)
				continue
			}
			if !ok {
				log.WarnContext(ctx, "lost a signing job's lease: another worker has it")
				cancel()
				return
			}
		}
	}()
	return ctx, func() { close(done); cancel() }
}

func (r *Runner) maxSize() int64 {
	if r.MaxSize > 0 {
		return r.MaxSize
	}
	return MaxObjectSize
}

// SignatureFormatParameter is the signing parameter that chooses the
// envelope of signed packages: "jws" (default) or "cose".
const SignatureFormatParameter = "signatureFormat"

// VerificationPluginParameter is the signing parameter of a Notation
// profile that names the Notation plugin every SignPayload envelope of
// the profile names as its verifier (the critical signed attribute
// io.cncf.notary.verificationPlugin), as AWS Signer's envelopes name
// AWSPluginName: so that signatures made by clients that know nothing of
// Signet, such as AWS's own plugin, verify the AWS way. Absent: no such
// attribute, and plain notation verifies the signatures.
const VerificationPluginParameter = "verificationPlugin"

// SecretScanParameter is the signing parameter of a Lambda profile that
// chooses what a secret found in a package does to its signing job (see
// package secretscan): "enforce" (default) fails the job, "warn" signs
// it and records the findings with the job, "off" does not scan.
const SecretScanParameter = "secretScan"

// Secret scan modes, the values of SecretScanParameter.
const (
	ScanEnforce = "enforce"
	ScanWarn    = "warn"
	ScanOff     = "off"
)

// SecretScanMode is the profile's scan mode: ScanEnforce, ScanWarn or
// ScanOff. Only Lambda profiles sign packages; their default is enforce.
func SecretScanMode(p Profile) string {
	switch v := strings.ToLower(p.SigningParameters[SecretScanParameter]); v {
	case ScanWarn, ScanOff:
		return v
	}
	return ScanEnforce
}

// AWSPluginName is the name of AWS Signer's Notation plugin.
const AWSPluginName = "com.amazonaws.signer.notation.plugin"

// EnvelopeFormat is the envelope type a profile's signed packages use.
func EnvelopeFormat(p Profile) signedzip.EnvelopeType {
	if strings.EqualFold(p.SigningParameters[SignatureFormatParameter], "cose") {
		return signedzip.COSE
	}
	return signedzip.JWS
}

// SignedKey is the key of a job's signed object: prefix + jobId + ".zip".
func SignedKey(j Job) string { return j.DestPrefix + j.ID + ".zip" }

func (r *Runner) sign(ctx context.Context, j Job) error {
	s := r.Service
	p, err := s.Store.Profile(ctx, j.ProfileName)
	if errors.Is(err, ErrNotFound) {
		return failf("Signing profile %s does not exist", j.ProfileName)
	} else if err != nil {
		return err
	}
	if p.Status != StatusActive {
		return failf("Signing profile %s is %s and cannot sign", p.Name, p.Status)
	}
	v, err := s.Store.ProfileVersion(ctx, j.ProfileName, j.ProfileVersion)
	if err != nil {
		return err
	}
	src, err := s.Objects.OpenSource(ctx, j.SourceBucket, j.SourceKey, j.SourceVersion)
	if err != nil {
		if isNotFound(err) {
			return failf("Source object s3://%s/%s version %s is not available: %v", j.SourceBucket, j.SourceKey, j.SourceVersion, err)
		}
		return err
	}
	defer src.Close()
	size := src.Size()
	if max := r.maxSize(); size > max {
		return failf("Source object is %d bytes, over the platform's limit of %d MB", size, max>>20)
	}
	if signedzip.IsSigned(src, size) {
		return failf("The zip file already has a signature")
	}
	info, err := signedzip.Check(src, size)
	if err != nil {
		switch {
		case errors.Is(err, signedzip.ErrEmpty):
			return failf("The zip file is empty")
		case errors.Is(err, signedzip.ErrNotZip), errors.Is(err, signedzip.ErrMalformed), errors.Is(err, signedzip.ErrTooLarge):
			return failf("The source object is not a valid zip file: %v", err)
		}
		return err
	}
	// The secret scan runs while the source is hashed; its verdict is
	// awaited before anything is signed.
	type scanned struct {
		findings []secretscan.Finding
		err      error
	}
	scanDone := make(chan scanned, 1)
	go func() {
		if SecretScanMode(p) == ScanOff || p.PlatformID != PlatformLambda {
			scanDone <- scanned{}
			return
		}
		// Its own handle: the store's objects keep one sequential reader
		// each, which the hash's reads would keep moving.
		ssrc, err := s.Objects.OpenSource(ctx, j.SourceBucket, j.SourceKey, j.SourceVersion)
		if err != nil {
			scanDone <- scanned{nil, err}
			return
		}
		defer ssrc.Close()
		f, err := r.scan(ctx, j, p, ssrc, ssrc.Size())
		scanDone <- scanned{f, err}
	}()
	sum, signedMD5, err := hashSource(io.NewSectionReader(src, 0, size), info.Head())
	sc := <-scanDone
	if sc.err != nil {
		return sc.err
	}
	findings := sc.findings
	if err != nil {
		return fmt.Errorf("failed to read source: %w", err)
	}
	digest := "sha384:" + hex.EncodeToString(sum)
	now := s.now()
	expiry := p.Validity.Expiry(now)
	typ := EnvelopeFormat(p)
	env, leaf, err := r.envelope(ctx, v, notary.Descriptor{MediaType: "application/zip", Digest: digest, Size: size}, now, expiry, s.Account.JobARN(j.ID), typ.MediaType())
	if err != nil {
		return err
	}
	head, tail, err := signedzip.Tail(src, info, env, typ)
	if err != nil {
		return err
	}
	signedMD5.Write(tail)
	key := SignedKey(j)
	body := io.MultiReader(io.NewSectionReader(src, 0, head), bytes.NewReader(tail))
	if _, err := s.Objects.PutSigned(ctx, j.DestBucket, key, body, signedMD5.Sum(nil)); err != nil {
		if isNotFound(err) {
			return failf("Destination bucket %s does not exist", j.DestBucket)
		}
		return fmt.Errorf("failed to store signed object: %w", err)
	}
	return s.Jobs.FinishJob(ctx, j.ID, func(j *Job) error {
		j.Status, j.StatusReason = JobSucceeded, "Signing Succeeded"
		if len(findings) > 0 {
			j.StatusReason += "; signed with " + describeFindings(findings)
			j.ScanFindings = findings
		}
		j.SignedBucket, j.SignedKey = j.DestBucket, key
		j.CompletedAt, j.SignatureExpiresAt = s.now(), expiry
		j.LeafSerial, j.LeafHash = leaf.Serial, leaf.Hash
		return nil
	})
}

// maxListedFindings bounds how many findings a status reason lists.
const maxListedFindings = 20

// scan runs the profile's secret scan on the source: it returns the
// findings a warn profile signs with, or fails the job under enforce.
func (r *Runner) scan(ctx context.Context, j Job, p Profile, src io.ReaderAt, size int64) ([]secretscan.Finding, error) {
	mode := SecretScanMode(p)
	res, err := secretscan.Scan(ctx, src, size, secretscan.Options{MaxTotal: r.maxSize(), Allowlist: r.Service.ScanAllowlist})
	switch {
	case errors.Is(err, secretscan.ErrTooLarge):
		return nil, failf("The secret scan refused the package: %v", err)
	case errors.Is(err, secretscan.ErrMalformed), errors.Is(err, secretscan.ErrNotZip):
		return nil, failf("The source object is not a valid zip file: %v", err)
	case err != nil:
		return nil, fmt.Errorf("secret scan: %w", err)
	case len(res.Findings) == 0:
		return nil, nil
	}
	if r.Service.OnScanFindings != nil {
		r.Service.OnScanFindings(ctx, j, mode == ScanEnforce, res.Findings)
	}
	if mode == ScanEnforce {
		return nil, &jobFailure{
			Reason:   "The package was not signed: the secret scan found " + describeFindings(res.Findings) + " (set signing parameter secretScan=warn to sign anyway, or allowlist them)",
			Findings: res.Findings,
		}
	}
	return res.Findings, nil
}

// describeFindings is "N secret-scan findings: path:line rule, …", at
// most maxListedFindings of them listed.
func describeFindings(fs []secretscan.Finding) string {
	var b strings.Builder
	if len(fs) == 1 {
		b.WriteString("1 secret-scan finding: ")
	} else {
		fmt.Fprintf(&b, "%d secret-scan findings: ", len(fs))
	}
	for i, f := range fs {
		if i == maxListedFindings {
			fmt.Fprintf(&b, ", and %d more", len(fs)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.String())
	}
	return b.String()
}

// hashSource reads U once and returns its SHA-384 and the MD5 state of
// its first head bytes, the part the signed package keeps (the caller
// adds the tail to know the signed object's ETag without reading it).
// The two hashes run on two goroutines, chunk by chunk.
func hashSource(r io.Reader, head int64) (sum []byte, signedMD5 hash.Hash, err error) {
	sh, m := sha512.New384(), md5.New()
	work, done := make(chan []byte), make(chan struct{})
	go func() {
		for b := range work {
			m.Write(b)
			done <- struct{}{}
		}
	}()
	defer close(work)
	buf := make([]byte, 1<<20)
	var off int64
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			mb := buf[:n]
			if rest := head - off; int64(n) > rest {
				mb = mb[:max(rest, 0)]
			}
			work <- mb
			sh.Write(buf[:n])
			<-done
			off += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
	}
	return sh.Sum(nil), m, nil
}

// envelope signs the payload describing d.
func (r *Runner) envelope(ctx context.Context, v Version, d notary.Descriptor, now, expiry time.Time, jobARN, mediaType string) ([]byte, leafInfo, error) {
	payload, err := notary.Payload(d)
	if err != nil {
		return nil, leafInfo{}, err
	}
	return r.Service.signPayload(ctx, v, payload, now, expiry, jobARN, mediaType, "")
}

// leafInfo identifies a signature's leaf certificate for revocation.
type leafInfo struct {
	Serial string // hex serial number
	Hash   string // hex SHA-384 of the TBS certificate
}

// signPayload signs a Notary payload with a fresh key whose leaf
// certificate the profile version's CA issues for this one signature.
func (s *Service) signPayload(ctx context.Context, v Version, payload []byte, now, expiry time.Time, jobARN, mediaType, verificationPlugin string) ([]byte, leafInfo, error) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, leafInfo{}, err
	}
	chain, err := s.Issuer.IssueLeaf(ctx, LeafRequest{Version: v, PublicKey: key.Public(), NotBefore: now, NotAfter: expiry})
	if err != nil {
		return nil, leafInfo{}, err
	}
	env, err := notary.Sign(notary.SignRequest{
		Payload: payload, MediaType: mediaType, Key: key, Chain: chain,
		SigningTime: now, Expiry: expiry, ProfileVersionARN: s.Account.ProfileVersionARN(v.ProfileName, v.Version), JobARN: jobARN, SigningAgent: SigningAgent,
		VerificationPlugin: verificationPlugin,
		Timestamper:        s.Timestamper, TSARoots: s.TSARoots,
	})
	return env, leafInfo{Serial: chain[0].SerialNumber.Text(16), Hash: TBSHash(chain[0])}, err
}

// TBSHash is hex(SHA-384(TBS certificate)), how AWS Signer's revocation
// API names certificates.
func TBSHash(c *x509.Certificate) string {
	sum := sha512.Sum384(c.RawTBSCertificate)
	return hex.EncodeToString(sum[:])
}
