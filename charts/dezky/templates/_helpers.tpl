{{/* Names, labels and shared pod parts of the dezky chart. */}}

{{- define "dezky.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dezky.fullname" -}}
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

{{- define "dezky.operator.fullname" -}}
{{- printf "%s-operator" (include "dezky.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dezky.api.fullname" -}}
{{- printf "%s-api" (include "dezky.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dezky.config.name" -}}
{{- printf "%s-config" (include "dezky.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dezky.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dezky.labels" -}}
helm.sh/chart: {{ include "dezky.chart" . }}
app.kubernetes.io/name: {{ include "dezky.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: dezky
{{- end }}

{{/* Selector labels of one component; call with (dict "ctx" $ "component" "operator"). */}}
{{- define "dezky.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dezky.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "dezky.componentLabels" -}}
{{ include "dezky.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "dezky.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Pod security context shared by both components: non-root, RuntimeDefault seccomp. */}}
{{- define "dezky.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Container security context shared by both components. */}}
{{- define "dezky.containerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Volumes shared by both components: config, upstream credentials, a small /tmp. */}}
{{- define "dezky.volumes" -}}
- name: config
  configMap:
    name: {{ include "dezky.config.name" . }}
- name: credentials
  secret:
    secretName: {{ .Values.credentials.existingSecret }}
    defaultMode: 0440
- name: tmp
  emptyDir:
    medium: Memory
    sizeLimit: 16Mi
{{- end }}

{{- define "dezky.volumeMounts" -}}
- name: config
  mountPath: /etc/dezky/config.yaml
  subPath: config.yaml
  readOnly: true
- name: credentials
  mountPath: /etc/dezky/secrets
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* Environment shared by both components: only the pod's identity, never a credential. */}}
{{- define "dezky.env" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- end }}

{{/* Scheduling of one component; call with (dict "ctx" $ "component" "operator" "values" .Values.operator). */}}
{{- define "dezky.scheduling" -}}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
affinity:
{{- if .values.affinity }}
  {{- toYaml .values.affinity | nindent 2 }}
{{- else }}
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "dezky.selectorLabels" (dict "ctx" .ctx "component" .component) | nindent 14 }}
{{- end }}
{{- end }}

{{/* Addresses of the Kubernetes API server for the NetworkPolicies, as a JSON list of CIDRs:
     networkPolicy.kubernetesApi.cidrs when set; otherwise, with kubernetesApi.discover, the
     endpoints of the `kubernetes` Service, looked up at install/upgrade time (under
     `helm template` nothing can be looked up and the list stays empty). */}}
{{- define "dezky.kubernetesApiCidrs" -}}
{{- $api := .Values.networkPolicy.kubernetesApi }}
{{- $cidrs := list }}
{{- if $api.cidrs }}
{{- $cidrs = $api.cidrs }}
{{- else if $api.discover }}
{{- $slices := lookup "discovery.k8s.io/v1" "EndpointSlice" "default" "" }}
{{- range (get $slices "items" | default list) }}
{{- if eq (get (.metadata.labels | default dict) "kubernetes.io/service-name") "kubernetes" }}
{{- range .endpoints }}
{{- range .addresses }}
{{- $cidrs = append $cidrs (printf "%s/%s" . (ternary "128" "32" (contains ":" .))) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson (uniq $cidrs) }}
{{- end }}
