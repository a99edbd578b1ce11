{{/* The chart's name, or nameOverride. */}}
{{- define "kube-guardian.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: fullnameOverride, else release name (plus the chart name when it is not in it). */}}
{{- define "kube-guardian.fullname" -}}
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

{{- define "kube-guardian.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kube-guardian.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kube-guardian.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "kube-guardian.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: kube-guardian
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "kube-guardian.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kube-guardian.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "kube-guardian.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "kube-guardian.webhookService" -}}
{{- printf "%s-webhook" (include "kube-guardian.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kube-guardian.tlsSecret" -}}
{{- printf "%s-webhook-tls" (include "kube-guardian.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kube-guardian.webhookName" -}}
{{- include "kube-guardian.fullname" . }}
{{- end }}

{{/*
The label value guardian.kube-guardian.io/candidate-for on the candidate records of the election
Lease: its name when it fits a label value (63 characters), else its first 54 characters ('.' as
'-'), '-' and 8 hex digits of its SHA-256. The operator computes the same
(guardian_cluster::lease::candidate_label): change both together.
*/}}
{{- define "kube-guardian.candidateLabel" -}}
{{- $lease := .Values.leaderElection.leaseName }}
{{- if le (len $lease) 63 }}
{{- $lease }}
{{- else }}
{{- $head := regexReplaceAll "[^a-z0-9-]" (lower $lease) "-" | trunc 54 | trimAll "-" }}
{{- printf "%s-%s" $head (sha256sum $lease | trunc 8) | trimPrefix "-" }}
{{- end }}
{{- end }}

{{/*
Whether each replica keeps a candidate record: "true" or "false". A missing value (helm upgrade
--reuse-values from a release before leaderElection.candidates existed) counts as on, the default,
rather than rendering an empty --lease-candidates= the operator refuses.
*/}}
{{- define "kube-guardian.candidates" -}}
{{- ne .Values.leaderElection.candidates false }}
{{- end }}
