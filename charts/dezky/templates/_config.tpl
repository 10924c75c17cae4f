{{/* The non-secret configuration file of both components, mounted at /etc/dezky/config.yaml.
     Its shape is the contract the dezky binary reads with --config; README.md documents it. */}}

{{- define "dezky.configFile" -}}
{{- $up := .Values.upstreams -}}
# Dezky configuration (rendered by the Helm chart). Credentials are not here: they are files in
# credentialsDir, one per key of the Secret {{ .Values.credentials.existingSecret | quote }}.
installationId: {{ .Values.installationId | quote }}
logging:
  level: {{ .Values.logging.level }}
  format: {{ .Values.logging.format }}
credentialsDir: /etc/dezky/secrets
upstreams:
  authentik:
    url: {{ $up.authentik.url | quote }}
    rateLimit:
      {{- toYaml $up.authentik.rateLimit | nindent 6 }}
  stalwart:
    url: {{ $up.stalwart.url | quote }}
    rateLimit:
      {{- toYaml $up.stalwart.rateLimit | nindent 6 }}
  ocis:
    url: {{ $up.ocis.url | quote }}
    rateLimit:
      {{- toYaml $up.ocis.rateLimit | nindent 6 }}
  stripe:
    enabled: {{ $up.stripe.enabled }}
    url: {{ $up.stripe.url | quote }}
    rateLimit:
      {{- toYaml $up.stripe.rateLimit | nindent 6 }}
    trialDays: {{ int $up.stripe.trialDays }}
dns:
  resolvers: {{ toJson .Values.dns.resolvers }}
plans:
  {{- toYaml .Values.plans | nindent 2 }}
operator:
  concurrency: {{ .Values.operator.concurrency }}
  resyncInterval: {{ .Values.operator.resyncInterval }}
  maxUpstreamDeletesPerMinute: {{ .Values.operator.maxUpstreamDeletesPerMinute }}
  metricsAddress: "0.0.0.0:{{ .Values.operator.metricsPort }}"
  leaderElection:
    leaseName: {{ .Values.operator.leaderElection.leaseName }}
    leaseNamespace: {{ .Release.Namespace }}
    leaseDuration: {{ .Values.operator.leaderElection.leaseDuration }}
    renewDeadline: {{ .Values.operator.leaderElection.renewDeadline }}
    retryPeriod: {{ .Values.operator.leaderElection.retryPeriod }}
api:
  listenAddress: "0.0.0.0:{{ .Values.api.port }}"
  publicUrl: {{ .Values.api.publicUrl | quote }}
  oidc:
    console:
      issuer: {{ .Values.api.oidc.console.issuer | quote }}
      clientId: {{ .Values.api.oidc.console.clientId | quote }}
    portal:
      issuer: {{ .Values.api.oidc.portal.issuer | quote }}
      clientId: {{ .Values.api.oidc.portal.clientId | quote }}
    platformAdminsGroup: {{ .Values.api.oidc.platformAdminsGroup | quote }}
{{- end }}
