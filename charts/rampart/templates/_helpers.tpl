{{/* Names, labels and shared pieces of the Rampart chart. */}}

{{- define "rampart.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "rampart.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels on every resource. */}}
{{- define "rampart.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "rampart.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: rampart
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "gateway"). */}}
{{- define "rampart.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rampart.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "rampart.componentLabels" -}}
{{ include "rampart.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "rampart.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "rampart.secretsName" -}}
{{- default (printf "%s-secrets" (include "rampart.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "rampart.pkiName" -}}
{{- default (printf "%s-pki" (include "rampart.fullname" .)) .Values.pki.existingSecret -}}
{{- end -}}

{{- define "rampart.databaseSecretName" -}}
{{- if .Values.postgresql.enabled -}}
{{- printf "%s-postgresql" (include "rampart.fullname" .) -}}
{{- else -}}
{{- .Values.postgresql.external.existingSecret -}}
{{- end -}}
{{- end -}}

{{- define "rampart.databaseUrlKey" -}}
{{- if .Values.postgresql.enabled -}}url{{- else -}}{{ .Values.postgresql.external.urlKey }}{{- end -}}
{{- end -}}

{{- define "rampart.natsUrl" -}}
{{- if .Values.nats.enabled -}}
{{- printf "nats://%s-nats:4222" (include "rampart.fullname" .) -}}
{{- else -}}
{{- .Values.nats.externalUrl -}}
{{- end -}}
{{- end -}}

{{- define "rampart.otlpEndpoint" -}}
{{- if .Values.observability.enabled -}}
{{- printf "http://%s-otel-collector:4318" (include "rampart.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* A service's in-cluster HTTP URL: (dict "root" $ "service" "attestation"). */}}
{{- define "rampart.serviceUrl" -}}
{{- printf "http://%s-%s:%d" (include "rampart.fullname" .root) .service (int (get (include "rampart.httpPorts" .root | fromYaml) .service)) -}}
{{- end -}}

{{/* Each service's HTTP port (API, /healthz, /readyz, /metrics): the services' defaults, from @rampart/contracts/ports (test/deploy/ports.test.ts keeps them equal). */}}
{{- define "rampart.httpPorts" -}}
gateway: 8080
attestation: 8083
telemetry: 8081
failures: 8084
updates: 8085
{{- end -}}

{{/* Environment every service shares. */}}
{{- define "rampart.commonEnv" -}}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: NATS_URL
  value: {{ include "rampart.natsUrl" . | quote }}
- name: STREAM_REPLICAS
  value: {{ .Values.nats.streamReplicas | quote }}
- name: TRACE_SAMPLE_RATIO
  value: {{ .Values.observability.traceSampleRatio | quote }}
{{- with include "rampart.otlpEndpoint" . }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{- define "rampart.databaseEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "rampart.databaseSecretName" . }}
      key: {{ include "rampart.databaseUrlKey" . }}
{{- end -}}

{{/* Fails the install, naming the value, when the values cannot work together. */}}
{{- define "rampart.validateValues" -}}
{{- $messages := list -}}
{{- if and (not .Values.nats.enabled) (not .Values.nats.externalUrl) -}}
{{- $messages = append $messages "nats.externalUrl: required when nats.enabled is false" -}}
{{- end -}}
{{- if and (not .Values.postgresql.enabled) (not .Values.postgresql.external.existingSecret) -}}
{{- $messages = append $messages "postgresql.external.existingSecret: required when postgresql.enabled is false" -}}
{{- end -}}
{{- if and .Values.nats.enabled (lt (int .Values.nats.replicas) 3) (gt (int .Values.nats.replicas) 1) -}}
{{- $messages = append $messages "nats.replicas: 1, or 3 or more (JetStream needs a majority)" -}}
{{- end -}}
{{- if not (regexMatch "^(always|[1-9][0-9]*(ms|s|m|h))$" (toString .Values.nats.syncInterval)) -}}
{{- $messages = append $messages "nats.syncInterval: \"always\" or a duration such as 30s or 2m" -}}
{{- end -}}
{{- if and .Values.nats.enabled (gt (int .Values.nats.streamReplicas) (int .Values.nats.replicas)) -}}
{{- $messages = append $messages "nats.streamReplicas: at most nats.replicas" -}}
{{- end -}}
{{- if and .Values.fleet.tenantToken .Values.fleet.existingTokenSecret -}}
{{- $messages = append $messages "fleet: set tenantToken or existingTokenSecret, not both" -}}
{{- end -}}
{{- if and .Values.fleet.enabled .Values.fleet.demoSetup (gt (int .Values.fleet.replicas) 1) (not (or .Values.fleet.tenantToken .Values.fleet.existingTokenSecret)) -}}
{{- $messages = append $messages "fleet.demoSetup: creates the demo tenant on pod 0 only; with fleet.replicas above 1 set fleet.tenantToken" -}}
{{- end -}}
{{- if and .Values.fleet.demoSetup (not (regexMatch "^[a-z0-9][a-z0-9-]{1,62}$" (toString .Values.fleet.demoTenant))) -}}
{{- $messages = append $messages "fleet.demoTenant: a tenant id (lower-case letters, digits and hyphens)" -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (lt (int .Values.autoscaling.maxReplicas) 2) -}}
{{- $messages = append $messages "autoscaling.maxReplicas: at least 2" -}}
{{- end -}}
{{- if $messages -}}
{{- printf "\nVALUES VALIDATION:\n%s" (join "\n" $messages) | fail -}}
{{- end -}}
{{- end -}}

{{/*
The PKI files each workload reads, and no other: a private key is mounted only where it signs or serves
(the platform CA's in attestation, the manufacturer CA's in the emulated factory, the server key where TLS ends).
*/}}
{{- define "rampart.pkiFiles" -}}
gateway: [gateway.crt, gateway.key, manufacturer-ca.crt, platform-ca.crt]
attestation: [platform-ca.crt, platform-ca.key, manufacturer-ca.crt]
telemetry: [platform-ca.crt]
failures: [platform-ca.crt]
updates: [gateway.crt, gateway.key, platform-ca.crt, manufacturer-ca.crt]
fleet: [platform-ca.crt, manufacturer-ca.crt, manufacturer-ca.key]
{{- end -}}

{{/* Volumes of a Rampart workload: (dict "root" $ "component" "gateway"). A writable /tmp (the root filesystem is read-only) and its PKI files. */}}
{{- define "rampart.volumes" -}}
- name: tmp
  emptyDir: {}
- name: pki
  secret:
    secretName: {{ include "rampart.pkiName" .root }}
    defaultMode: 0440
    items:
      {{- range $file := get (include "rampart.pkiFiles" .root | fromYaml) .component }}
      - { key: {{ $file }}, path: {{ $file }} }
      {{- end }}
{{- end -}}

{{- define "rampart.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: pki
  mountPath: /etc/rampart/pki
  readOnly: true
{{- end -}}
