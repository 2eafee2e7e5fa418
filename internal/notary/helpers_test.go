package notary

import (
	"crypto/x509"
	"encoding/pem"
)

type x509Cert = x509.Certificate

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
