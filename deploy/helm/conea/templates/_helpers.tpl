{{- /*
Names follow the operations guide: with `helm install conea …` the API Deployment is
`conea-api`, its pods carry `app: conea-api`, the ConfigMap is `conea-config` and the Secret
`conea-secrets`. Every other resource carries `app: conea`.
*/ -}}
{{- define "conea.name" -}}{{ .Chart.Name }}{{- end -}}
{{- define "conea.fullname" -}}{{ default .Release.Name .Values.fullnameOverride }}{{- end -}}
{{- define "conea.labels" -}}
app: {{ include "conea.fullname" . }}
app.kubernetes.io/name: {{ include "conea.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: conea
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
{{- define "conea.apiSelector" -}}
app: {{ include "conea.fullname" . }}-api
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: api
{{- end -}}
{{- define "conea.workerSelector" -}}
app: {{ include "conea.fullname" . }}-worker
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: worker
{{- end -}}
{{- define "conea.podLabels" -}}
app.kubernetes.io/name: {{ include "conea.name" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: conea
{{- end -}}
{{- define "conea.configName" -}}{{ include "conea.fullname" . }}-config{{- end -}}
{{- define "conea.secretName" -}}{{ default (printf "%s-secrets" (include "conea.fullname" .)) .Values.secrets.existingSecret }}{{- end -}}
{{- define "conea.serviceAccountName" -}}{{ default (include "conea.fullname" .) .Values.serviceAccount.name }}{{- end -}}
