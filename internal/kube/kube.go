// Package kube is the inventory's Kubernetes API client: it lists the
// running pods of every namespace as inventory workloads ([Client.ListPods])
// and evicts pods through the Eviction API ([Client.Evict]), which honours
// PodDisruptionBudgets.
//
// Signet's identity in the cluster needs "list" on pods and "create" on
// pods/eviction, cluster-wide.
package kube

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/signet/signet/internal/inventory"
)

// PageSize is the number of pods asked for in one list request.
const PageSize = 500

// Config says how to reach the API server.
type Config struct {
	// Kubeconfig is the path of a kubeconfig file. Required unless
	// InCluster is set.
	Kubeconfig string
	// InCluster uses the service account of the pod Signet runs in
	// (rest.InClusterConfig). It excludes Kubeconfig.
	InCluster bool
	// Context is the kubeconfig context to use; "" means its
	// current-context.
	Context string
}

// Client talks to one Kubernetes API server.
type Client struct {
	cs kubernetes.Interface
}

// New returns a client for the API server cfg names.
func New(cfg Config) (*Client, error) {
	var rc *rest.Config
	var err error
	switch {
	case cfg.InCluster && (cfg.Kubeconfig != "" || cfg.Context != ""):
		return nil, errors.New("kube: set either InCluster or Kubeconfig (and Context), not both")
	case cfg.InCluster:
		rc, err = rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("kube: in-cluster configuration: %w (is Signet running in a pod with a service account?)", err)
		}
	case cfg.Kubeconfig == "":
		return nil, errors.New("kube: no API server configured: set Kubeconfig to a kubeconfig file, or InCluster when Signet runs in the cluster")
	default:
		rc, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			&clientcmd.ClientConfigLoadingRules{ExplicitPath: cfg.Kubeconfig},
			&clientcmd.ConfigOverrides{CurrentContext: cfg.Context},
		).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("kube: kubeconfig %s: %w", cfg.Kubeconfig, err)
		}
	}
	rc.UserAgent = "signet"
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kube: %w", err)
	}
	return &Client{cs: cs}, nil
}

// ListPods returns every Running pod of every namespace as a workload,
// reading the list in pages of PageSize. Its images are those its
// containers, init containers and ephemeral containers run, by digest
// when the kubelet reports one (see [ImageOf]).
func (c *Client) ListPods(ctx context.Context) ([]inventory.Workload, error) {
	var out []inventory.Workload
	opts := metav1.ListOptions{FieldSelector: "status.phase=Running", Limit: PageSize}
	for {
		list, err := c.cs.CoreV1().Pods("").List(ctx, opts)
		if err != nil {
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				return nil, fmt.Errorf("kube: listing pods: the list changed too much while it was read in pages (410); read it again: %w", err)
			}
			return nil, fmt.Errorf("kube: listing pods: %w%s", err, hint(err, "list", "pods"))
		}
		for i := range list.Items {
			if p := &list.Items[i]; p.Status.Phase == corev1.PodRunning {
				out = append(out, Workload(p))
			}
		}
		if list.Continue == "" {
			return out, nil
		}
		opts.Continue = list.Continue
	}
}

// Workload returns pod as an inventory workload.
func Workload(pod *corev1.Pod) inventory.Workload {
	spec := make(map[string]string)
	for _, c := range pod.Spec.InitContainers {
		spec[c.Name] = c.Image
	}
	for _, c := range pod.Spec.Containers {
		spec[c.Name] = c.Image
	}
	for _, c := range pod.Spec.EphemeralContainers {
		spec[c.Name] = c.Image
	}
	w := inventory.Workload{
		ID:        inventory.KubernetesID(pod.Namespace, pod.Name),
		Source:    inventory.SourceKubernetes,
		Namespace: pod.Namespace,
		Name:      pod.Name,
		UID:       string(pod.UID),
	}
	seen := make(map[string]bool)
	add := func(img string) {
		if img != "" && !seen[img] {
			seen[img] = true
			w.Images = append(w.Images, img)
		}
	}
	st := pod.Status
	reported := make(map[string]bool)
	for _, list := range [][]corev1.ContainerStatus{st.InitContainerStatuses, st.ContainerStatuses, st.EphemeralContainerStatuses} {
		for _, cs := range list {
			reported[cs.Name] = true
			add(ImageOf(cs.ImageID, cmp.Or(spec[cs.Name], cs.Image)))
		}
	}
	// A container without a status yet runs nothing yet, but its image is
	// what will run: keep it as the spec gives it.
	for _, c := range pod.Spec.Containers {
		if !reported[c.Name] {
			add(c.Image)
		}
	}
	return w
}

// ImageOf returns the image a container runs, by digest: from the status
// imageID "docker-pullable://host/repo@sha256:…" or "host/repo@sha256:…",
// host/repo@sha256:…. An imageID that names no repository (a bare
// "sha256:…", the local image ID that Docker reports, or none) gives the
// spec image as it is.
func ImageOf(imageID, specImage string) string {
	id := imageID
	if i := strings.Index(id, "://"); i >= 0 {
		id = id[i+3:]
	}
	at := strings.LastIndexByte(id, '@')
	if at <= 0 || !strings.Contains(id[at+1:], ":") {
		return specImage
	}
	return id
}

// Evict evicts a pod through the Eviction API (policy/v1). A pod that no
// longer exists is not an error. An eviction that a PodDisruptionBudget
// refuses (HTTP 429) is an error that says so; it may succeed later.
func (c *Client) Evict(ctx context.Context, namespace, name string) error {
	ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	err := c.cs.PolicyV1().Evictions(namespace).Evict(ctx, ev)
	switch {
	case err == nil, apierrors.IsNotFound(err):
		return nil
	case apierrors.IsTooManyRequests(err):
		return fmt.Errorf("kube: evicting pod %s/%s: a PodDisruptionBudget does not allow it now (429): %w", namespace, name, err)
	}
	return fmt.Errorf("kube: evicting pod %s/%s: %w%s", namespace, name, err, hint(err, "create", "pods/eviction"))
}

// EvictWorkload evicts the pod of a Kubernetes workload; it fits
// [inventory.Monitor.Evict].
func (c *Client) EvictWorkload(ctx context.Context, w inventory.Workload) error {
	if w.Source != inventory.SourceKubernetes {
		return fmt.Errorf("kube: %s is a %s workload, not a pod", w.ID, w.Source)
	}
	return c.Evict(ctx, w.Namespace, w.Name)
}

// hint says what to grant when the API server refused a request.
func hint(err error, verb, resource string) string {
	if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
		return fmt.Sprintf(" (Signet's identity needs %q on %s in every namespace: grant it with a ClusterRole)", verb, resource)
	}
	return ""
}
