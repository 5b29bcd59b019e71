{{/* The name every object of the release is called by. */}}
{{- define "opsbot.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride -}}
{{- end -}}

{{/* The labels the Deployment selects its pods by (and the Service, the PDB). */}}
{{- define "opsbot.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The labels on every object. */}}
{{- define "opsbot.labels" -}}
{{ include "opsbot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "opsbot.serviceAccountName" -}}
{{- default (include "opsbot.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}
