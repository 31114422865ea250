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

{{/* Where devices and relying parties reach the attestation API (its PUBLIC_BASE_URL): services.attestation.publicBaseUrl, or the in-cluster Service URL. */}}
{{- define "rampart.attestationPublicUrl" -}}
{{- .Values.services.attestation.publicBaseUrl | default (printf "http://%s-attestation.%s.svc:%d" (include "rampart.fullname" .) .Release.Namespace (int (get (include "rampart.httpPorts" . | fromYaml) "attestation"))) -}}
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
{{- if and .Values.pki.tpmVendorRoots.existingConfigMap .Values.pki.tpmVendorRoots.existingSecret -}}
{{- $messages = append $messages "pki.tpmVendorRoots: set existingConfigMap or existingSecret, not both" -}}
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
{{- $keys := .Values.keys -}}
{{- if eq $keys.provider "pkcs11" -}}
{{- if not (or $keys.pkcs11.module $keys.softhsm.enabled) -}}
{{- $messages = append $messages "keys.pkcs11.module: required with keys.provider=pkcs11 (the vendor's PKCS#11 module, an absolute path in the container; or keys.softhsm.enabled for development)" -}}
{{- end -}}
{{- if and $keys.pkcs11.module (not (hasPrefix "/" (toString $keys.pkcs11.module))) -}}
{{- $messages = append $messages "keys.pkcs11.module: an absolute path" -}}
{{- end -}}
{{- $slot := include "rampart.pkcs11Slot" . -}}
{{- if and $keys.pkcs11.tokenLabel $slot -}}
{{- $messages = append $messages "keys.pkcs11: name the token by tokenLabel or slot, not both" -}}
{{- end -}}
{{- if not (or $keys.pkcs11.tokenLabel $slot $keys.softhsm.enabled) -}}
{{- $messages = append $messages "keys.pkcs11.tokenLabel: required with keys.provider=pkcs11 (or keys.pkcs11.slot)" -}}
{{- end -}}
{{- if and $slot (not (regexMatch "^[0-9]+$" $slot)) -}}
{{- $messages = append $messages "keys.pkcs11.slot: a slot id, a whole number as a string (quoted: Helm reads a number as float64, which loses a large id such as 2305843009213693953)" -}}
{{- end -}}
{{- if $keys.softhsm.enabled -}}
{{- /* The development token is SoftHSM2's, made by the init container under the generated PIN and found by its label: a vendor's module, its volume, another PIN or a slot would each be ignored or break it. */ -}}
{{- range $name, $set := dict "keys.pkcs11.module" $keys.pkcs11.module "keys.pkcs11.moduleVolume" $keys.pkcs11.moduleVolume "keys.pkcs11.pin.existingSecret" $keys.pkcs11.pin.existingSecret "keys.pkcs11.slot" $slot -}}
{{- if $set -}}
{{- $messages = append $messages (printf "%s: not with keys.softhsm.enabled (the development token is SoftHSM2's, by its label, under its generated PIN): unset one of them" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if not (or $keys.pkcs11.pin.existingSecret $keys.softhsm.enabled) -}}
{{- $messages = append $messages "keys.pkcs11.pin.existingSecret: required with keys.provider=pkcs11 (a Secret holding the token's user PIN)" -}}
{{- end -}}
{{- if not $keys.platformCa.existingSecret -}}
{{- $messages = append $messages "keys.platformCa.existingSecret: required with keys.provider=pkcs11 (root.pem, issuing.pem, root.crl from `rampart ceremony`)" -}}
{{- end -}}
{{- else -}}
{{- if or $keys.pkcs11.module $keys.pkcs11.tokenLabel (include "rampart.pkcs11Slot" .) $keys.pkcs11.pin.existingSecret $keys.platformCa.existingSecret $keys.softhsm.enabled -}}
{{- $messages = append $messages "keys.provider: keys.pkcs11, keys.platformCa or keys.softhsm are set but keys.provider is not pkcs11: set it, or unset them" -}}
{{- end -}}
{{- end -}}
{{- if $keys.softhsm.enabled -}}
{{- if or (ne (int .Values.services.attestation.replicas) 1) (ne (int .Values.services.updates.replicas) 1) .Values.autoscaling.enabled -}}
{{- $messages = append $messages "keys.softhsm.enabled: one replica of attestation and of updates (services.*.replicas=1, autoscaling off): each token is a file on one volume" -}}
{{- end -}}
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
{{- if include "rampart.keysInToken" . }}
attestation: [manufacturer-ca.crt]
{{- else }}
attestation: [platform-ca.crt, platform-ca.key, manufacturer-ca.crt]
{{- end }}
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
{{- include "rampart.keysVolumes" . }}
{{- if and (eq .component "attestation") (include "rampart.tpmVendorRoots" .root) }}
{{- $roots := .root.Values.pki.tpmVendorRoots }}
- name: tpm-vendor-roots
  {{- if $roots.existingConfigMap }}
  configMap:
    name: {{ $roots.existingConfigMap }}
  {{- else }}
  secret:
    secretName: {{ $roots.existingSecret }}
  {{- end }}
    defaultMode: 0440
    items:
      - { key: {{ $roots.key }}, path: tpm-vendor-roots.pem }
{{- end }}
{{- end -}}

{{/* Mounts of a Rampart workload: (dict "root" $ "component" "gateway"). */}}
{{- define "rampart.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: pki
  mountPath: /etc/rampart/pki
  readOnly: true
{{- include "rampart.keysVolumeMounts" . }}
{{- if and (eq .component "attestation") (include "rampart.tpmVendorRoots" .root) }}
- name: tpm-vendor-roots
  mountPath: /etc/rampart/tpm-vendor-roots
  readOnly: true
{{- end }}
{{- end -}}

{{/* "true" when TPM vendor roots are configured (pki.tpmVendorRoots): the attestation service accepts tpm2-quote evidence. */}}
{{- define "rampart.tpmVendorRoots" -}}
{{- with .Values.pki.tpmVendorRoots -}}{{- if or .existingConfigMap .existingSecret -}}true{{- end -}}{{- end -}}
{{- end -}}

{{/* ---- Keys in a PKCS#11 token (keys.provider=pkcs11) ---- */}}

{{/* "true" when the signing keys are in a token; empty otherwise (a template returns a string). */}}
{{- define "rampart.keysInToken" -}}
{{- if eq .Values.keys.provider "pkcs11" -}}true{{- end -}}
{{- end -}}

{{/* The services that sign with the provider's keys: attestation (platform issuing CA, tenant CAs) and updates (online TUF roles). */}}
{{- define "rampart.signingServices" -}}
[attestation, updates]
{{- end -}}

{{/* The platform CA files of the three-tier hierarchy each workload reads: the issuing CA only where it signs, the root(s) where device certificates are checked. */}}
{{- define "rampart.platformCaFiles" -}}
attestation: [root.pem, issuing.pem{{ if .Values.keys.platformCa.crl }}, root.crl{{ end }}]
gateway: [root.pem]
updates: [root.pem]
{{- end -}}

{{/* The roots device certificates chain to, for the gateway and updates (PLATFORM_CA_FILE): the offline root(s) in three tiers. */}}
{{- define "rampart.platformRootFile" -}}
{{- if include "rampart.keysInToken" . -}}/etc/rampart/platform-ca/root.pem{{- else -}}/etc/rampart/pki/platform-ca.crt{{- end -}}
{{- end -}}

{{- define "rampart.pkcs11Module" -}}
{{- if .Values.keys.pkcs11.module -}}{{ .Values.keys.pkcs11.module }}{{- else if .Values.keys.softhsm.enabled -}}/usr/lib/softhsm/libsofthsm2.so{{- end -}}
{{- end -}}

{{- define "rampart.pkcs11TokenLabel" -}}
{{- if .Values.keys.pkcs11.tokenLabel -}}{{ .Values.keys.pkcs11.tokenLabel }}{{- else if and .Values.keys.softhsm.enabled (not (include "rampart.pkcs11Slot" .)) -}}{{ .Values.keys.softhsm.tokenLabel }}{{- end -}}
{{- end -}}

{{/*
The token's slot id as written in the values, or empty for none. A string: Helm reads a number in YAML as float64,
which prints 1829237426 as 1.829237426e+09 and rounds 2305843009213693953 (the schema takes a string only).
*/}}
{{- define "rampart.pkcs11Slot" -}}
{{- if not (kindIs "invalid" .Values.keys.pkcs11.slot) -}}{{ .Values.keys.pkcs11.slot | toString }}{{- end -}}
{{- end -}}

{{/* The Secret holding the token's user PIN: the user's, or the generated development one (keys.softhsm). */}}
{{- define "rampart.pkcs11PinSecret" -}}
{{- default (printf "%s-softhsm" (include "rampart.fullname" .)) .Values.keys.pkcs11.pin.existingSecret -}}
{{- end -}}

{{- define "rampart.pkcs11PinKey" -}}
{{- if .Values.keys.pkcs11.pin.existingSecret -}}{{ .Values.keys.pkcs11.pin.key }}{{- else -}}pin{{- end -}}
{{- end -}}

{{/* Where the development token lives in the pod (keys.softhsm): its SOFTHSM2_CONF and token directory. */}}
{{- define "rampart.softhsmDir" -}}/var/lib/rampart/softhsm{{- end -}}

{{/* Environment of a signing service: which provider, and how to reach the token. The PIN is a mounted file, never a value here. */}}
{{- define "rampart.keysEnv" -}}
{{- if include "rampart.keysInToken" . -}}
- name: KEYS_PROVIDER
  value: pkcs11
- name: PKCS11_MODULE
  value: {{ include "rampart.pkcs11Module" . | quote }}
{{- with include "rampart.pkcs11TokenLabel" . }}
- name: PKCS11_TOKEN_LABEL
  value: {{ . | quote }}
{{- end }}
{{- with include "rampart.pkcs11Slot" . }}
- name: PKCS11_SLOT
  value: {{ . | quote }}
{{- end }}
- name: PKCS11_PIN_FILE
  value: /etc/rampart/pkcs11/pin
- name: PKCS11_SESSIONS
  value: {{ .Values.keys.pkcs11.sessions | quote }}
{{- if .Values.keys.softhsm.enabled }}
- name: SOFTHSM2_CONF
  value: {{ include "rampart.softhsmDir" . }}/softhsm2.conf
{{- end }}
{{- range $key, $value := .Values.keys.pkcs11.extraEnv }}
- name: {{ $key }}
  value: {{ $value | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The token's volumes in a workload: (dict "root" $ "component" "attestation"). Nothing in software mode. */}}
{{- define "rampart.keysVolumes" -}}
{{- $root := .root -}}
{{- if include "rampart.keysInToken" $root }}
{{- $caFiles := get (include "rampart.platformCaFiles" $root | fromYaml) .component }}
{{- if $caFiles }}
- name: platform-ca
  secret:
    secretName: {{ $root.Values.keys.platformCa.existingSecret }}
    defaultMode: 0440
    {{- if $root.Values.keys.softhsm.enabled }}
    # Development: the pod starts before the ceremony's files exist (the init container prints the issuing CA's
    # request); the service exits naming the missing file until the Secret is created, then starts.
    optional: true
    {{- end }}
    items:
      {{- range $file := $caFiles }}
      - { key: {{ $file }}, path: {{ $file }} }
      {{- end }}
{{- end }}
{{- if has .component (include "rampart.signingServices" $root | fromYamlArray) }}
- name: pkcs11-pin
  secret:
    secretName: {{ include "rampart.pkcs11PinSecret" $root }}
    defaultMode: 0440
    items:
      - { key: {{ include "rampart.pkcs11PinKey" $root }}, path: pin }
{{- with $root.Values.keys.pkcs11.moduleVolume }}
- name: pkcs11-module
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if $root.Values.keys.softhsm.enabled }}
- name: softhsm
  persistentVolumeClaim:
    claimName: {{ include "rampart.fullname" $root }}-{{ .component }}-softhsm
- name: softhsm-init
  secret:
    secretName: {{ include "rampart.fullname" $root }}-softhsm
    defaultMode: 0440
    items:
      - { key: pin, path: pin }
      - { key: so-pin, path: so-pin }
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "rampart.keysVolumeMounts" -}}
{{- $root := .root -}}
{{- if include "rampart.keysInToken" $root }}
{{- if get (include "rampart.platformCaFiles" $root | fromYaml) .component }}
- name: platform-ca
  mountPath: /etc/rampart/platform-ca
  readOnly: true
{{- end }}
{{- if has .component (include "rampart.signingServices" $root | fromYamlArray) }}
- name: pkcs11-pin
  mountPath: /etc/rampart/pkcs11
  readOnly: true
{{- if $root.Values.keys.pkcs11.moduleVolume }}
- name: pkcs11-module
  mountPath: {{ $root.Values.keys.pkcs11.moduleMountPath }}
  readOnly: true
{{- end }}
{{- if $root.Values.keys.softhsm.enabled }}
- name: softhsm
  mountPath: {{ include "rampart.softhsmDir" $root }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
DEVELOPMENT (keys.softhsm): the init container of a signing service, (dict "root" $ "component" "attestation"). It
initialises the SoftHSM2 token on the pod's volume the first time (the same token on every later start), and in
attestation makes the platform issuing CA's key in it and prints its signing request for the ceremony
(`kubectl logs deploy/<fullname>-attestation -c softhsm-token`).
*/}}
{{- define "rampart.softhsmInitContainer" -}}
{{- $root := .root -}}
{{- $dir := include "rampart.softhsmDir" $root -}}
- name: softhsm-token
  image: {{ include "rampart.image" $root }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  securityContext:
    {{- toYaml $root.Values.containerSecurityContext | nindent 4 }}
  env:
    - name: SOFTHSM2_CONF
      value: {{ $dir }}/softhsm2.conf
    - name: TOKEN_LABEL
      value: {{ include "rampart.pkcs11TokenLabel" $root | quote }}
  command:
    - sh
    - -ec
    - |
      mkdir -p {{ $dir }}/tokens
      {
        echo 'directories.tokendir = {{ $dir }}/tokens'
        echo 'objectstore.backend = file'
        echo 'log.level = ERROR'
      } > {{ $dir }}/softhsm2.conf
      if softhsm2-util --show-slots | grep -q "Label: *$TOKEN_LABEL *$"; then
        echo "softhsm-token: token $TOKEN_LABEL is there"
      else
        softhsm2-util --init-token --free --label "$TOKEN_LABEL" \
          --so-pin "$(cat /etc/rampart/softhsm-init/so-pin)" --pin "$(cat /etc/rampart/softhsm-init/pin)"
      fi
      {{- if eq .component "attestation" }}
      if [ ! -f {{ $dir }}/issuing.csr ]; then
        node apps/cli/dist/main.js ceremony issuing-csr --out {{ $dir }}/issuing.csr \
          --pkcs11-module {{ include "rampart.pkcs11Module" $root }} --token-label "$TOKEN_LABEL" --pin-file /etc/rampart/pkcs11/pin
      fi
      echo "softhsm-token: the platform issuing CA's request, for rampart ceremony issuing sign:"
      cat {{ $dir }}/issuing.csr
      {{- end }}
  resources:
    requests: { cpu: 10m, memory: 64Mi }
    limits: { memory: 256Mi }
  volumeMounts:
    - name: tmp
      mountPath: /tmp
    - name: softhsm
      mountPath: {{ $dir }}
    - name: softhsm-init
      mountPath: /etc/rampart/softhsm-init
      readOnly: true
    - name: pkcs11-pin
      mountPath: /etc/rampart/pkcs11
      readOnly: true
{{- end -}}
