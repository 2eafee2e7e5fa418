package admission

import (
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// container is one container image of a workload and the JSON pointer
// of its image field (for the mutating webhook's patches).
type container struct {
	Image string
	Path  string
}

// workload is what admission needs of a Kubernetes object.
type workload struct {
	Meta       metav1.ObjectMeta
	Template   *metav1.ObjectMeta // the pod template's, for pod-owning workloads
	Containers []container
}

// breakGlass returns the break-glass reason of the object or its pod
// template, and whether either carries the annotation.
func (w *workload) breakGlass() (string, bool) {
	if r, ok := w.Meta.Annotations[BreakGlassAnnotation]; ok {
		return r, true
	}
	if w.Template != nil {
		if r, ok := w.Template.Annotations[BreakGlassAnnotation]; ok {
			return r, true
		}
	}
	return "", false
}

// Kinds the webhook understands, by group/version/kind.
var kinds = map[string]func([]byte) (*workload, error){
	"/v1/Pod": func(b []byte) (*workload, error) {
		var o corev1.Pod
		if err := json.Unmarshal(b, &o); err != nil {
			return nil, err
		}
		return podWorkload(o.ObjectMeta, nil, &o.Spec, "/spec"), nil
	},
	"/v1/ReplicationController": func(b []byte) (*workload, error) {
		var o corev1.ReplicationController
		if err := json.Unmarshal(b, &o); err != nil {
			return nil, err
		}
		if o.Spec.Template == nil {
			return &workload{Meta: o.ObjectMeta}, nil
		}
		return podWorkload(o.ObjectMeta, &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, "/spec/template/spec"), nil
	},
	"apps/v1/Deployment": func(b []byte) (*workload, error) {
		var o appsv1.Deployment
		if err := json.Unmarshal(b, &o); err != nil {
			return nil, err
		}
		return podWorkload(o.ObjectMeta, &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, "/spec/template/spec"), nil
	},
	"apps/v1/ReplicaSet": func(b []byte) (*workload, error) {
		var o appsv1.ReplicaSet
		if err := json.Unmarshal(b, &o); err != nil {
			return nil, err
		}
		return podWorkload(o.ObjectMeta, &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, "/spec/template/spec"), nil
	},
	"apps/v1/StatefulSet": func(b []byte) (*workload, error) {
		var o appsv1.StatefulSet
		if err := json.Unmarshal(b, &o); err != nil {
			return nil, err
		}
		return podWorkload(o.ObjectMeta, &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, "/spec/template/spec"), nil
	},
	"apps/v1/DaemonSet": func(b []byte) (*workload, error) {
		var o appsv1.DaemonSet
		if err := json.Unmarshal(b, &o); err != nil {
			return nil, err
		}
		return podWorkload(o.ObjectMeta, &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, "/spec/template/spec"), nil
	},
	"batch/v1/Job": func(b []byte) (*workload, error) {
		var o batchv1.Job
		if err := json.Unmarshal(b, &o); err != nil {
			return nil, err
		}
		return podWorkload(o.ObjectMeta, &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, "/spec/template/spec"), nil
	},
	"batch/v1/CronJob": func(b []byte) (*workload, error) {
		var o batchv1.CronJob
		if err := json.Unmarshal(b, &o); err != nil {
			return nil, err
		}
		t := &o.Spec.JobTemplate.Spec.Template
		return podWorkload(o.ObjectMeta, &t.ObjectMeta, &t.Spec, "/spec/jobTemplate/spec/template/spec"), nil
	},
}

func podWorkload(meta metav1.ObjectMeta, template *metav1.ObjectMeta, spec *corev1.PodSpec, at string) *workload {
	w := &workload{Meta: meta, Template: template}
	for i, c := range spec.InitContainers {
		w.Containers = append(w.Containers, container{c.Image, fmt.Sprintf("%s/initContainers/%d/image", at, i)})
	}
	for i, c := range spec.Containers {
		w.Containers = append(w.Containers, container{c.Image, fmt.Sprintf("%s/containers/%d/image", at, i)})
	}
	for i, c := range spec.EphemeralContainers {
		w.Containers = append(w.Containers, container{c.Image, fmt.Sprintf("%s/ephemeralContainers/%d/image", at, i)})
	}
	return w
}

// parseWorkload decodes an AdmissionRequest's object by its kind; ok is
// false for a kind admission does not judge.
func parseWorkload(group, version, kind string, raw []byte) (w *workload, ok bool, err error) {
	f, ok := kinds[group+"/"+version+"/"+kind]
	if !ok {
		return nil, false, nil
	}
	if len(raw) == 0 {
		return nil, true, fmt.Errorf("the AdmissionReview's request has no object")
	}
	w, err = f(raw)
	if err != nil {
		return nil, true, fmt.Errorf("the request's object is not a valid %s: %v", kind, err)
	}
	return w, true, nil
}
