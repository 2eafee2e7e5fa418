package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// asset is an embedded file served under /console/assets/.
type asset struct {
	body, gz    []byte
	contentType string
	hash        string
}

// loadAssets reads the embedded assets and names each by its hash, so
// that browsers may keep them for good.
func (c *Console) loadAssets() error {
	c.assets, c.assetPaths = map[string]asset{}, map[string]string{}
	return fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := path.Base(p)
		ext := path.Ext(name)
		if ext != ".js" && ext != ".css" && ext != ".svg" {
			return nil // licenses and notes are not served
		}
		b, err := fs.ReadFile(assetFS, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		a := asset{body: b, gz: gz.Bytes(), contentType: mime.TypeByExtension(ext), hash: hex.EncodeToString(sum[:8])}
		c.assets[name] = a
		c.assetPaths[name] = "/console/assets/" + name + "?v=" + a.hash
		return nil
	})
}

// AssetSizes reports the bytes of the assets a page loads, raw and
// gzip-compressed.
func (c *Console) AssetSizes() (raw, gzipped int) {
	for _, a := range c.assets {
		raw += len(a.body)
		gzipped += len(a.gz)
	}
	return raw, gzipped
}

func (c *Console) asset(w http.ResponseWriter, r *http.Request) {
	a, ok := c.assets[r.PathValue("file")]
	if !ok {
		c.plainError(w, http.StatusNotFound, "no such asset")
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Vary", "Accept-Encoding")
	if r.URL.Query().Get("v") == a.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("ETag", `"`+a.hash+`"`)
	if r.Header.Get("If-None-Match") == `"`+a.hash+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	w.Write(body)
}
