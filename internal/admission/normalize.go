package admission

import (
	"fmt"
	"strings"
)

// NormalizeImage returns a container image reference as the container
// runtime resolves it: a reference without a registry is Docker Hub's
// (docker.io, with library/ for one-component names), and one with
// neither tag nor digest is :latest. Tags and digests are kept.
func NormalizeImage(image string) (string, error) {
	if image == "" || strings.TrimSpace(image) != image || strings.ContainsAny(image, " \t\n") {
		return "", fmt.Errorf("image %q is not a valid image reference", image)
	}
	name, digest, hasDigest := strings.Cut(image, "@")
	tag := ""
	// A tag is after the last ":" of the last path component.
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name, tag = name[:i], name[i+1:]
		if tag == "" {
			return "", fmt.Errorf("image %q has an empty tag", image)
		}
	}
	first, rest, hasSlash := strings.Cut(name, "/")
	if !hasSlash || !strings.ContainsAny(first, ".:") && first != "localhost" {
		// No registry host: Docker Hub.
		if !hasSlash {
			name = "docker.io/library/" + name
		} else {
			name = "docker.io/" + first + "/" + rest
		}
	}
	if name == "" || strings.HasSuffix(name, "/") {
		return "", fmt.Errorf("image %q names no repository", image)
	}
	out := name
	if tag != "" {
		out += ":" + tag
	}
	switch {
	case hasDigest:
		if !strings.Contains(digest, ":") {
			return "", fmt.Errorf("image %q has a malformed digest (want @sha256:HEX)", image)
		}
		out += "@" + digest
	case tag == "":
		out += ":latest"
	}
	return out, nil
}

// repository returns host/repository of a normalized reference.
func repository(ref string) string {
	name, _, _ := strings.Cut(ref, "@")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	return name
}
