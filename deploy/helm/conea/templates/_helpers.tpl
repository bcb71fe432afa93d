{{- define "conea.name" -}}{{ .Chart.Name }}{{- end -}}
{{- define "conea.fullname" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end -}}
{{- define "conea.labels" -}}
app.kubernetes.io/name: {{ include "conea.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}
{{- define "conea.secretName" -}}{{ default (printf "%s-secrets" (include "conea.fullname" .)) .Values.secrets.existingSecret }}{{- end -}}
