{{/* Names, labels and the environment shared by every hds container. */}}

{{- define "hds.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hds.fullname" -}}
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

{{- define "hds.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "hds.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: health-data-space
{{- end -}}

{{/* Selector labels of one component: include "hds.selectorLabels" (list . "gateway") */}}
{{- define "hds.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "hds.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "hds.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "hds.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "hds.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Kafka bootstrap servers: kafka.bootstrap, else the development broker of the chart (broker.enabled). */}}
{{- define "hds.kafkaBootstrap" -}}
{{- if .Values.kafka.bootstrap -}}
{{- .Values.kafka.bootstrap -}}
{{- else if .Values.broker.enabled -}}
{{- printf "%s:%d" (default (printf "%s-broker" (include "hds.fullname" .)) .Values.broker.advertisedHost) (int .Values.broker.port) -}}
{{- end -}}
{{- end -}}

{{- define "hds.production" -}}
{{- if eq .Values.env "production" -}}true{{- end -}}
{{- end -}}

{{/* In-cluster URL of the Keycloak deployed by the chart. */}}
{{- define "hds.keycloakServiceUrl" -}}
{{- printf "http://%s-keycloak:8080" (include "hds.fullname" .) -}}
{{- end -}}

{{/* Keycloak URL the services call (admin API, bootstrap). */}}
{{- define "hds.keycloakUrl" -}}
{{- if .Values.keycloak.deploy.enabled -}}
{{- include "hds.keycloakServiceUrl" . -}}
{{- else -}}
{{- .Values.keycloak.url -}}
{{- end -}}
{{- end -}}

{{/* The issuer tokens carry: explicit, else the public Keycloak hostname, else the Keycloak URL. */}}
{{- define "hds.oidcIssuer" -}}
{{- if .Values.oidc.issuer -}}
{{- .Values.oidc.issuer -}}
{{- else if and .Values.keycloak.deploy.enabled .Values.keycloak.deploy.hostname -}}
{{- printf "https://%s/realms/%s" .Values.keycloak.deploy.hostname .Values.keycloak.realm -}}
{{- else if .Values.keycloak.url -}}
{{- printf "%s/realms/%s" (trimSuffix "/" .Values.keycloak.url) .Values.keycloak.realm -}}
{{- end -}}
{{- end -}}

{{/* Public URL of the portal (served by the catalog): the realm's redirect URIs point at it. */}}
{{- define "hds.portalUrl" -}}
{{- if .Values.keycloak.deploy.portalUrl -}}
{{- trimSuffix "/" .Values.keycloak.deploy.portalUrl -}}
{{- else if and .Values.catalog.ingress.enabled .Values.catalog.ingress.host -}}
{{- printf "https://%s" .Values.catalog.ingress.host -}}
{{- end -}}
{{- end -}}

{{/* Secret with the Keycloak administrator the bootstrap Job signs in as. */}}
{{- define "hds.bootstrapAdminSecret" -}}
{{- if .Values.keycloak.bootstrapJob.adminSecretName -}}
{{- .Values.keycloak.bootstrapJob.adminSecretName -}}
{{- else if .Values.keycloak.deploy.enabled -}}
{{- .Values.keycloak.deploy.adminSecretName -}}
{{- end -}}
{{- end -}}

{{/* The realm ConfigMap the chart renders (Keycloak import and/or bootstrap Job), empty when none. */}}
{{- define "hds.realmConfigMapRendered" -}}
{{- $kc := .Values.keycloak.deploy -}}
{{- if and (not $kc.realmConfigMap) (or (and $kc.enabled $kc.importRealm) .Values.keycloak.bootstrapJob.enabled) -}}
{{- printf "%s-keycloak-realm" (include "hds.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* The realm ConfigMap to mount: an existing one named in values, else the rendered one. */}}
{{- define "hds.realmConfigMap" -}}
{{- default (include "hds.realmConfigMapRendered" .) .Values.keycloak.deploy.realmConfigMap -}}
{{- end -}}

{{/* Refuse to render an unsafe or incomplete release. Messages name values, never secrets. */}}
{{- define "hds.validate" -}}
{{- if not (include "hds.kafkaBootstrap" .) -}}
{{- fail "kafka.bootstrap is required: the bootstrap servers of the external Kafka cluster" -}}
{{- end -}}
{{- if include "hds.production" . -}}
{{- if .Values.broker.enabled -}}
{{- fail "broker.enabled is refused when env=production: the development broker keeps messages in memory only" -}}
{{- end -}}
{{- if .Values.syntheticFeeds.enabled -}}
{{- fail "syntheticFeeds.enabled is refused when env=production: synthetic feeds are for development deployments" -}}
{{- end -}}
{{- if not .Values.deid.keySecret.name -}}
{{- fail "deid.keySecret.name is required when env=production: reference the Secret holding HDS_DEID_KEYS" -}}
{{- end -}}
{{- if not (include "hds.oidcIssuer" .) -}}
{{- fail "oidc.issuer is required when env=production (or set keycloak.url, or keycloak.deploy.enabled with keycloak.deploy.hostname)" -}}
{{- end -}}
{{- if and .Values.keycloak.deploy.enabled (not .Values.keycloak.deploy.adminSecretName) -}}
{{- fail "keycloak.deploy.adminSecretName is required when env=production and keycloak.deploy.enabled" -}}
{{- end -}}
{{- if and .Values.keycloak.deploy.enabled (eq .Values.keycloak.deploy.database.vendor "dev-file") -}}
{{- fail "keycloak.deploy.database.vendor=dev-file is refused when env=production: use a real database" -}}
{{- end -}}
{{- if and .Values.keycloak.deploy.enabled (not .Values.keycloak.deploy.database.url) -}}
{{- fail "keycloak.deploy.database.url is required when env=production and keycloak.deploy.enabled" -}}
{{- end -}}
{{- end -}}
{{- if include "hds.keycloakUrl" . -}}
{{- if not (and .Values.keycloak.adminClient.id .Values.keycloak.adminClient.secretName) -}}
{{- fail "keycloak.adminClient.id and keycloak.adminClient.secretName are required when Keycloak is configured (the catalog mirrors grants with that client)" -}}
{{- end -}}
{{- end -}}
{{- if .Values.keycloak.bootstrapJob.enabled -}}
{{- if not (include "hds.keycloakUrl" .) -}}
{{- fail "keycloak.bootstrapJob.enabled needs keycloak.url or keycloak.deploy.enabled" -}}
{{- end -}}
{{- if not (include "hds.bootstrapAdminSecret" .) -}}
{{- fail "keycloak.bootstrapJob.enabled needs keycloak.bootstrapJob.adminSecretName (or a deployed Keycloak's keycloak.deploy.adminSecretName)" -}}
{{- end -}}
{{- end -}}
{{- with .Values.gateway.autoscaling -}}
{{- if and .enabled (lt (int .maxReplicas) (int .minReplicas)) -}}
{{- fail "gateway.autoscaling.maxReplicas must not be below gateway.autoscaling.minReplicas" -}}
{{- end -}}
{{- end -}}
{{- if .Values.mllp.enabled -}}
{{- if not .Values.mllp.listeners -}}
{{- fail "mllp.enabled needs at least one entry in mllp.listeners ({hospital, feed})" -}}
{{- end -}}
{{- $seen := dict -}}
{{- range .Values.mllp.listeners -}}
{{- $key := printf "%s/%s" .hospital .feed -}}
{{- if hasKey $seen $key -}}
{{- fail (printf "mllp.listeners has %s/%s twice" .hospital .feed) -}}
{{- end -}}
{{- $_ := set $seen $key true -}}
{{- end -}}
{{- end -}}
{{- if and .Values.catalog.ingress.enabled (not .Values.catalog.ingress.host) -}}
{{- fail "catalog.ingress.host is required when catalog.ingress.enabled" -}}
{{- end -}}
{{- end -}}

{{/* Key under which a policy file is stored in the ConfigMap ("deid/x.yaml" -> "deid--x.yaml"). */}}
{{- define "hds.policyKey" -}}
{{- replace "/" "--" . -}}
{{- end -}}

{{/* Environment common to every hds container: include "hds.env" (dict "root" . "deidKeys" true "adminSecret" false) */}}
{{- define "hds.env" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
- name: HDS_ENV
  value: {{ $v.env | quote }}
- name: HDS_KAFKA_BOOTSTRAP
  value: {{ include "hds.kafkaBootstrap" $root | quote }}
- name: HDS_KAFKA_SESSION_TIMEOUT_MS
  value: {{ $v.kafka.sessionTimeoutMs | quote }}
- name: HDS_DATA_DIR
  value: /var/lib/hds
- name: HDS_GATEWAY_GROUP
  value: {{ $v.gateway.group | quote }}
- name: HDS_LOADER_GROUP
  value: {{ $v.catalog.loaderGroup | quote }}
{{- if $v.policies.files }}
- name: HDS_POLICIES_DIR
  value: {{ $v.policies.mountPath | quote }}
{{- end }}
{{- with (include "hds.oidcIssuer" $root) }}
- name: HDS_OIDC_ISSUER
  value: {{ . | quote }}
{{- end }}
- name: HDS_OIDC_AUDIENCE
  value: {{ $v.oidc.audience | quote }}
{{- with (include "hds.keycloakUrl" $root) }}
- name: HDS_KEYCLOAK_URL
  value: {{ . | quote }}
{{- end }}
- name: HDS_KEYCLOAK_REALM
  value: {{ $v.keycloak.realm | quote }}
{{- if and .deidKeys $v.deid.keySecret.name }}
- name: HDS_DEID_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ $v.deid.keySecret.name | quote }}
      key: {{ $v.deid.keySecret.keysKey | quote }}
- name: HDS_DEID_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ $v.deid.keySecret.name | quote }}
      key: {{ $v.deid.keySecret.keyIdKey | quote }}
      optional: true
{{- end }}
{{- if and .sandboxKey $v.deid.keySecret.name }}
- name: HDS_SANDBOX_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $v.deid.keySecret.name | quote }}
      key: {{ $v.deid.keySecret.sandboxKeyKey | quote }}
      optional: {{ not $v.deid.keySecret.onlyGateway }}
{{- end }}
{{- if and .adminSecret (include "hds.keycloakUrl" $root) }}
- name: HDS_KEYCLOAK_ADMIN_CLIENT_ID
  value: {{ $v.keycloak.adminClient.id | quote }}
- name: HDS_KEYCLOAK_ADMIN_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $v.keycloak.adminClient.secretName | quote }}
      key: {{ $v.keycloak.adminClient.secretKey | quote }}
{{- end }}
- name: HOME
  value: /tmp
- name: XDG_CACHE_HOME
  value: /tmp/.cache
{{- end -}}

{{/* Volumes/mounts shared by hds containers: the writable /tmp and the optional policy override. */}}
{{- define "hds.policyVolume" -}}
{{- if .Values.policies.files -}}
- name: policies
  configMap:
    name: {{ include "hds.fullname" . }}-policies
    items:
    {{- range $path, $_ := .Values.policies.files }}
      - key: {{ include "hds.policyKey" $path | quote }}
        path: {{ $path | quote }}
    {{- end }}
{{- end }}
{{- end -}}

{{- define "hds.policyMount" -}}
{{- if .Values.policies.files -}}
- name: policies
  mountPath: {{ .Values.policies.mountPath | quote }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* A checksum of the policy files, so pods restart when policies change. */}}
{{- define "hds.policyChecksum" -}}
{{- toJson .Values.policies.files | sha256sum -}}
{{- end -}}
