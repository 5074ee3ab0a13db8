{{/* The chart name, overridable. */}}
{{- define "callback-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name of every object: release-chart, or just the release when it already contains the chart name. */}}
{{- define "callback-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "callback-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "callback-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "callback-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "callback-operator.labels" -}}
helm.sh/chart: {{ include "callback-operator.chart" . }}
{{ include "callback-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "callback-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "callback-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "callback-operator.leaseName" -}}
{{- default (printf "%s-leader" (include "callback-operator.fullname" .)) .Values.leaderElection.leaseName | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The fingerprint key Secret the operator creates (when the chart is not given one). */}}
{{- define "callback-operator.fingerprintKeySecret" -}}
{{- printf "%s-fingerprint-key" (include "callback-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "callback-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
What the operator does with the Kubernetes API, and nothing more (docs/install.md explains each rule):
- callbackregistrations: list/watch (the controller's cache), get, patch (finalizer add/remove); the spec is never
  written, so no update;
- callbackregistrations/status: patch (server-side apply);
- secrets: get (credentials are read at reconcile time and never cached), list/watch (a metadata-only watch maps a
  changed Secret to the registrations that use it); never create/update/patch/delete here. In the label opt-in
  mode (secretLabelSelector) only list/watch: data is read through lists carrying the selector, never by name;
- events.k8s.io events: create, and patch (the Recorder aggregates repeats into one Event).
*/}}
{{- define "callback-operator.rules" -}}
- apiGroups: ["callback-operator.io"]
  resources: ["callbackregistrations"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["callback-operator.io"]
  resources: ["callbackregistrations/status"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["secrets"]
  {{- if .Values.secretLabelSelector }}
  verbs: ["list", "watch"]
  {{- else }}
  verbs: ["get", "list", "watch"]
  {{- end }}
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/* The shards as a JSON list of {name, selector}: one unnamed entry without a selector when not sharded; else the
default shard (unnamed, every object without the shard label) and one entry per name in sharding.shards. */}}
{{- define "callback-operator.shards" -}}
{{- $shards := list (dict "name" "" "selector" "") }}
{{- with .Values.sharding.shards }}
{{- $shards = list (dict "name" "" "selector" "!sharding.callback-operator.io/key") }}
{{- range . }}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]{0,18}[a-z0-9])?$" .) }}
{{- fail (printf "sharding.shards: %q is not a short DNS label (lowercase letters, digits, '-', at most 20)" .) }}
{{- end }}
{{- $shards = append $shards (dict "name" . "selector" (printf "sharding.callback-operator.io/key=%s" .)) }}
{{- end }}
{{- end }}
{{- toJson $shards }}
{{- end }}
