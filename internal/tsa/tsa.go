// Package tsa is Signet's RFC 3161 time-stamping authority. It answers
// time-stamp requests with a token — CMS SignedData over a TSTInfo, signed
// with ECDSA P-384 by a certificate whose only extended key usage,
// timeStamping, is critical — so that the time a signature was made can be
// proven independently of the signer. Signet timestamps every signature
// with it in process, and serves it over http for other clients
// (`notation sign --timestamp-url`).
package tsa

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"

	"github.com/notaryproject/tspclient-go"
	"github.com/notaryproject/tspclient-go/pki"
)

// Object identifiers (RFC 5652, RFC 3161, RFC 5035, RFC 5758, ETSI).
var (
	oidSignedData           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidContentType          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSigningTime          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidSigningCertificateV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidSHA384               = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidECDSAWithSHA384      = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	// BaselinePolicy is the ETSI baseline time-stamp policy (0.4.0.2023.1.1).
	BaselinePolicy = asn1.ObjectIdentifier{0, 4, 0, 2023, 1, 1}
)

// MaxRequestSize bounds a time-stamp request read over http.
const MaxRequestSize = 64 << 10

// Authority issues time-stamp tokens.
type Authority struct {
	Cert   *x509.Certificate   // the TSA certificate (EKU timeStamping)
	Chain  []*x509.Certificate // Cert, then its issuers up to the TSA root
	Signer crypto.Signer       // Cert's key
	Now    func() time.Time    // nil: time.Now
}

var _ tspclient.Timestamper = (*Authority)(nil)

func (a *Authority) now() time.Time {
	if a.Now != nil {
		return a.Now().UTC()
	}
	return time.Now().UTC()
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type signedData struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	EncapContentInfo encapContentInfo
	Certificates     asn1.RawValue `asn1:"optional,tag:0"`
	SignerInfos      []signerInfo  `asn1:"set"`
}

type encapContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     []byte `asn1:"explicit,tag:0"`
}

type issuerAndSerial struct {
	Issuer       asn1.RawValue
	SerialNumber *big.Int
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue `asn1:"set"`
}

type signerInfo struct {
	Version            int
	SID                issuerAndSerial
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        []attribute `asn1:"tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
}

type essCertIDv2 struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	CertHash      []byte
}

type signingCertificateV2 struct {
	Certs []essCertIDv2
}

func attr(typ asn1.ObjectIdentifier, value any) (attribute, error) {
	b, err := asn1.Marshal(value)
	if err != nil {
		return attribute{}, err
	}
	return attribute{Type: typ, Values: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: b}}, nil
}

// Timestamp implements tspclient.Timestamper: it answers a request with a
// granted response carrying a token over the request's message imprint.
func (a *Authority) Timestamp(ctx context.Context, req *tspclient.Request) (*tspclient.Response, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := a.now()
	info := tspclient.TSTInfo{
		Version:        1,
		Policy:         BaselinePolicy,
		MessageImprint: req.MessageImprint,
		SerialNumber:   serial,
		GenTime:        now.Truncate(time.Second),
		Accuracy:       tspclient.Accuracy{Seconds: 1},
		Nonce:          req.Nonce,
	}
	eContent, err := asn1.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("failed to encode TSTInfo: %w", err)
	}
	token, err := a.sign(eContent, now)
	if err != nil {
		return nil, err
	}
	return &tspclient.Response{Status: pki.StatusInfo{Status: pki.StatusGranted}, TimestampToken: asn1.RawValue{FullBytes: token}}, nil
}

// sign wraps eContent (a DER TSTInfo) in CMS SignedData.
func (a *Authority) sign(eContent []byte, now time.Time) ([]byte, error) {
	digest := sha512.Sum384(eContent)
	certHash := sha512.Sum384(a.Cert.Raw)
	sha384 := pkix.AlgorithmIdentifier{Algorithm: oidSHA384}
	var attrs []attribute
	for _, a := range []struct {
		typ asn1.ObjectIdentifier
		v   any
	}{
		{oidContentType, oidTSTInfo},
		{oidSigningTime, now.Truncate(time.Second)},
		{oidMessageDigest, digest[:]},
		{oidSigningCertificateV2, signingCertificateV2{Certs: []essCertIDv2{{HashAlgorithm: sha384, CertHash: certHash[:]}}}},
	} {
		at, err := attr(a.typ, a.v)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, at)
	}
	// The signature covers the DER SET OF the attributes, exactly as a
	// verifier re-encodes them.
	signedBytes, err := asn1.MarshalWithParams(attrs, "set")
	if err != nil {
		return nil, err
	}
	h := sha512.Sum384(signedBytes)
	sig, err := a.Signer.Sign(rand.Reader, h[:], crypto.SHA384)
	if err != nil {
		return nil, fmt.Errorf("failed to sign the time-stamp token: %w", err)
	}
	var certs []byte
	for _, c := range a.Chain {
		certs = append(certs, c.Raw...)
	}
	sd := signedData{
		Version:          3,
		DigestAlgorithms: []pkix.AlgorithmIdentifier{sha384},
		EncapContentInfo: encapContentInfo{ContentType: oidTSTInfo, Content: eContent},
		Certificates:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: certs},
		SignerInfos: []signerInfo{{
			Version:            1,
			SID:                issuerAndSerial{Issuer: asn1.RawValue{FullBytes: a.Cert.RawIssuer}, SerialNumber: a.Cert.SerialNumber},
			DigestAlgorithm:    sha384,
			SignedAttrs:        attrs,
			SignatureAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA384},
			Signature:          sig,
		}},
	}
	sdBytes, err := asn1.Marshal(sd)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(contentInfo{ContentType: oidSignedData, Content: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sdBytes}})
}

// Handler serves RFC 3161 over http: POST a DER TimeStampReq
// (application/timestamp-query), get a TimeStampResp
// (application/timestamp-reply). A malformed request gets a rejection
// response (status 2, badDataFormat), as RFC 3161 asks.
func (a *Authority) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "POST a DER TimeStampReq with Content-Type application/timestamp-query", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestSize))
		if err != nil {
			http.Error(w, "time-stamp request too large or unreadable", http.StatusRequestEntityTooLarge)
			return
		}
		var resp *tspclient.Response
		req := &tspclient.Request{}
		if err := req.UnmarshalBinary(body); err == nil {
			resp, err = a.Timestamp(r.Context(), req)
			if err != nil {
				resp = reject(err)
			}
		} else {
			resp = reject(err)
		}
		b, err := resp.MarshalBinary()
		if err != nil {
			http.Error(w, "failed to encode the response", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(b)
	})
}

// reject is a rejection with failInfo badDataFormat. (tspclient's
// StatusString cannot be encoded by encoding/asn1, so the reason is only
// in the failure bit.)
func reject(error) *tspclient.Response {
	return &tspclient.Response{Status: pki.StatusInfo{
		Status:   pki.StatusRejection,
		FailInfo: asn1.BitString{Bytes: []byte{0x04}, BitLength: 6}, // badDataFormat (bit 5)
	}}
}
