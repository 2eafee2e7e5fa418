package s3api

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/objects"
)

// s3Namespace is the XML namespace of S3's documents.
const s3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

// s3Time formats a time as S3's XML timestamps: ISO 8601 with
// milliseconds, in UTC.
func s3Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// s3ETag quotes an ETag for a header or an XML element.
func s3ETag(etag string) string { return `"` + etag + `"` }

// Request documents.

// errMalformedXML is S3's answer to a request document that does not parse
// or validate.
func errMalformedXML(detail string) *awsapi.Error {
	msg := "The XML you provided was not well-formed or did not validate against our published schema"
	if detail != "" {
		msg += ": " + detail
	}
	return &awsapi.Error{Code: "MalformedXML", Status: 400, Message: msg}
}

// decodeXML decodes exactly one root element named root (in S3's
// namespace or none) into v.
func decodeXML(body []byte, root string, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errMalformedXML("the request body is empty")
	}
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.Strict = true
	if err := dec.Decode(v); err != nil {
		return errMalformedXML(err.Error())
	}
	// Nothing but whitespace, comments and processing instructions may follow.
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return errMalformedXML(err.Error())
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return errMalformedXML("text after the " + root + " element")
			}
		case xml.Comment, xml.ProcInst:
		default:
			return errMalformedXML("content after the " + root + " element")
		}
	}
	return nil
}

func checkNamespace(name xml.Name, root string) error {
	if name.Local != root || (name.Space != "" && name.Space != s3Namespace) {
		return errMalformedXML(fmt.Sprintf("the root element must be %s, not %s", root, name.Local))
	}
	return nil
}

// versioningConfiguration is PutBucketVersioning's request body and
// GetBucketVersioning's response.
type versioningConfiguration struct {
	XMLName   xml.Name `xml:"VersioningConfiguration"`
	Status    string   `xml:"Status,omitempty"`
	MfaDelete string   `xml:"MfaDelete,omitempty"`
}

// parseVersioningConfiguration parses a VersioningConfiguration document
// and returns its status: "Enabled", "Suspended", or "" when it has none
// (which changes nothing).
func parseVersioningConfiguration(body []byte) (string, error) {
	var vc versioningConfiguration
	if err := decodeXML(body, "VersioningConfiguration", &vc); err != nil {
		return "", err
	}
	if err := checkNamespace(vc.XMLName, "VersioningConfiguration"); err != nil {
		return "", err
	}
	switch vc.MfaDelete {
	case "", "Disabled":
	case "Enabled":
		return "", &awsapi.Error{Code: "NotImplemented", Status: 501, Message: "MFA delete is not implemented."}
	default:
		return "", errMalformedXML("MfaDelete must be Enabled or Disabled")
	}
	switch vc.Status {
	case "", objects.VersioningEnabled, objects.VersioningSuspended:
		return vc.Status, nil
	}
	return "", &awsapi.Error{Code: "IllegalVersioningConfigurationException", Status: 400,
		Message: fmt.Sprintf("The versioning status must be Enabled or Suspended, not %q.", vc.Status)}
}

// completeMultipartUpload is CompleteMultipartUpload's request body.
type completeMultipartUpload struct {
	XMLName xml.Name `xml:"CompleteMultipartUpload"`
	Parts   []struct {
		ETag       string `xml:"ETag"`
		PartNumber string `xml:"PartNumber"`
	} `xml:"Part"`
}

// parseCompleteMultipartUpload parses a CompleteMultipartUpload document
// into its parts, in the order given (the object store checks the order).
func parseCompleteMultipartUpload(body []byte) ([]objects.CompletedPart, error) {
	var c completeMultipartUpload
	if err := decodeXML(body, "CompleteMultipartUpload", &c); err != nil {
		return nil, err
	}
	if err := checkNamespace(c.XMLName, "CompleteMultipartUpload"); err != nil {
		return nil, err
	}
	if len(c.Parts) == 0 {
		return nil, errMalformedXML("the list of parts is empty")
	}
	if len(c.Parts) > objects.MaxPartNumber {
		return nil, errMalformedXML(fmt.Sprintf("more than %d parts", objects.MaxPartNumber))
	}
	out := make([]objects.CompletedPart, 0, len(c.Parts))
	for i, p := range c.Parts {
		n, err := strconv.Atoi(strings.TrimSpace(p.PartNumber))
		if err != nil {
			return nil, errMalformedXML(fmt.Sprintf("part %d has no valid PartNumber", i+1))
		}
		if n < 1 || n > objects.MaxPartNumber {
			return nil, &awsapi.Error{Code: "InvalidArgument", Status: 400, Message: fmt.Sprintf("Part number must be an integer between 1 and %d, inclusive.", objects.MaxPartNumber)}
		}
		etag := strings.TrimSpace(p.ETag)
		if etag == "" {
			return nil, errMalformedXML(fmt.Sprintf("part %d has no ETag", n))
		}
		out = append(out, objects.CompletedPart{Number: n, ETag: etag})
	}
	return out, nil
}

// deleteRequest is DeleteObjects' request body.
type deleteRequest struct {
	XMLName xml.Name `xml:"Delete"`
	Quiet   string   `xml:"Quiet"`
	Objects []struct {
		Key       string `xml:"Key"`
		VersionID string `xml:"VersionId"`
	} `xml:"Object"`
}

// maxDeleteObjects is the most keys one DeleteObjects request may name.
const maxDeleteObjects = 1000

func parseDelete(body []byte) (deleteRequest, error) {
	var d deleteRequest
	if err := decodeXML(body, "Delete", &d); err != nil {
		return d, err
	}
	if err := checkNamespace(d.XMLName, "Delete"); err != nil {
		return d, err
	}
	if len(d.Objects) == 0 || len(d.Objects) > maxDeleteObjects {
		return d, errMalformedXML(fmt.Sprintf("a Delete request names 1 to %d objects", maxDeleteObjects))
	}
	switch strings.TrimSpace(d.Quiet) {
	case "", "true", "false":
	default:
		return d, errMalformedXML("Quiet must be true or false")
	}
	return d, nil
}

// Response documents.

type s3Owner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

type listAllMyBucketsResult struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListAllMyBucketsResult"`
	Owner   s3Owner  `xml:"Owner"`
	Buckets []struct {
		Name         string `xml:"Name"`
		CreationDate string `xml:"CreationDate"`
	} `xml:"Buckets>Bucket"`
}

type locationConstraint struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ LocationConstraint"`
	Region  string   `xml:",chardata"`
}

type versioningConfigurationResult struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ VersioningConfiguration"`
	Status  string   `xml:"Status,omitempty"`
}

type initiateMultipartUploadResult struct {
	XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ InitiateMultipartUploadResult"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	UploadID string   `xml:"UploadId"`
}

type completeMultipartUploadResult struct {
	XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CompleteMultipartUploadResult"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
}

type s3Contents struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	StorageClass string `xml:"StorageClass"`
}

type s3CommonPrefix struct {
	Prefix string `xml:"Prefix"`
}

type listBucketResult struct {
	XMLName               xml.Name         `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string           `xml:"Name"`
	Prefix                string           `xml:"Prefix"`
	Marker                *string          `xml:"Marker"`
	NextMarker            string           `xml:"NextMarker,omitempty"`
	Delimiter             string           `xml:"Delimiter,omitempty"`
	MaxKeys               int              `xml:"MaxKeys"`
	EncodingType          string           `xml:"EncodingType,omitempty"`
	IsTruncated           bool             `xml:"IsTruncated"`
	Contents              []s3Contents     `xml:"Contents"`
	CommonPrefixes        []s3CommonPrefix `xml:"CommonPrefixes"`
	KeyCount              *int             `xml:"KeyCount"`
	ContinuationToken     string           `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string           `xml:"NextContinuationToken,omitempty"`
	StartAfter            string           `xml:"StartAfter,omitempty"`
}

// versionEntry is a Version or DeleteMarker element (Marker says which):
// ListObjectVersions interleaves them in key and age order.
type versionEntry struct {
	Marker       bool   `xml:"-"`
	Key          string `xml:"Key"`
	VersionID    string `xml:"VersionId"`
	IsLatest     bool   `xml:"IsLatest"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag,omitempty"`
	Size         *int64 `xml:"Size"`
	StorageClass string `xml:"StorageClass,omitempty"`
}

// MarshalXML names the element after what the entry is.
func (v versionEntry) MarshalXML(e *xml.Encoder, _ xml.StartElement) error {
	name := "Version"
	if v.Marker {
		name = "DeleteMarker"
	}
	type plain versionEntry // without this method
	return e.EncodeElement(plain(v), xml.StartElement{Name: xml.Name{Local: name}})
}

type listVersionsResult struct {
	XMLName             xml.Name         `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListVersionsResult"`
	Name                string           `xml:"Name"`
	Prefix              string           `xml:"Prefix"`
	KeyMarker           string           `xml:"KeyMarker"`
	VersionIDMarker     string           `xml:"VersionIdMarker"`
	NextKeyMarker       string           `xml:"NextKeyMarker,omitempty"`
	NextVersionIDMarker string           `xml:"NextVersionIdMarker,omitempty"`
	MaxKeys             int              `xml:"MaxKeys"`
	Delimiter           string           `xml:"Delimiter,omitempty"`
	EncodingType        string           `xml:"EncodingType,omitempty"`
	IsTruncated         bool             `xml:"IsTruncated"`
	Entries             []versionEntry   `xml:"Version"`
	CommonPrefixes      []s3CommonPrefix `xml:"CommonPrefixes"`
}

type deleteResult struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ DeleteResult"`
	Deleted []struct {
		Key                   string `xml:"Key"`
		VersionID             string `xml:"VersionId,omitempty"`
		DeleteMarker          bool   `xml:"DeleteMarker,omitempty"`
		DeleteMarkerVersionID string `xml:"DeleteMarkerVersionId,omitempty"`
	} `xml:"Deleted"`
	Errors []s3DeleteError `xml:"Error"`
}

type s3DeleteError struct {
	Key       string `xml:"Key"`
	VersionID string `xml:"VersionId,omitempty"`
	Code      string `xml:"Code"`
	Message   string `xml:"Message"`
}

// errXMLBodyTooLarge reports a request document above its limit.
var errXMLBodyTooLarge = errors.New("request document too large")
