{{/* Egress rules shared by the NetworkPolicies. */}}

{{- define "hds.egressDns" -}}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end -}}

{{- define "hds.egressKafka" -}}
{{- if and .Values.broker.enabled (not .Values.kafka.bootstrap) -}}
- ports:
    - port: {{ .Values.broker.port }}
      protocol: TCP
  to:
    - podSelector:
        matchLabels:
          {{- include "hds.selectorLabels" (list . "broker") | nindent 10 }}
{{- else -}}
- ports:
    {{- range .Values.networkPolicy.kafka.ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
  {{- with .Values.networkPolicy.kafka.peers }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* The issuer (JWKS) and Keycloak admin API: the deployed Keycloak's pods and/or the external issuer. */}}
{{- define "hds.egressIdentity" -}}
{{- if .Values.keycloak.deploy.enabled -}}
- ports:
    - port: 8080
      protocol: TCP
  to:
    - podSelector:
        matchLabels:
          {{- include "hds.selectorLabels" (list . "keycloak") | nindent 10 }}
{{ end -}}
- ports:
    {{- range .Values.networkPolicy.oidc.ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
  {{- with .Values.networkPolicy.oidc.peers }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
