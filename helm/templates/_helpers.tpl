{{/* The prefix of every object's name: the release name, with the chart's name unless it has it. */}}
{{- define "protes.fullname" -}}
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

{{- define "protes.labels" -}}
app.kubernetes.io/name: {{ default .Chart.Name .Values.nameOverride }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component; called with (dict "root" . "component" "gateway"). */}}
{{- define "protes.selectorLabels" -}}
app.kubernetes.io/name: {{ default .root.Chart.Name .root.Values.nameOverride }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "protes.distributed" -}}
{{- if eq .Values.mode "distributed" }}true{{ else if ne .Values.mode "standalone" }}{{ fail "mode: must be distributed or standalone" }}{{ end -}}
{{- end -}}

{{/* The Secret with the MongoDB and RabbitMQ URLs and passwords. */}}
{{- define "protes.secretName" -}}
{{- default (printf "%s-secrets" (include "protes.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "protes.nodeCredentialsSecretName" -}}
{{- default (printf "%s-node-credentials" (include "protes.fullname" .)) .Values.nodeCredentials.existingSecret -}}
{{- end -}}

{{- define "protes.hasNodeCredentials" -}}
{{- if or .Values.nodeCredentials.existingSecret .Values.nodeCredentials.files }}true{{ end -}}
{{- end -}}

{{/* The pod of a gateway or a tracker; called with (dict "root" . "component" "gateway"). */}}
{{- define "protes.podTemplate" -}}
{{- $root := .root -}}
{{- $values := .root.Values -}}
{{- $settings := index $values .component -}}
metadata:
  labels:
    {{- include "protes.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
  annotations:
    # Pods roll when the configuration changes.
    checksum/config: {{ toYaml $values.config | sha256sum }}
    {{- with $settings.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  # Service links would put PROTES_<SERVICE>_* variables in the pod, which read like configuration.
  enableServiceLinks: false
  terminationGracePeriodSeconds: {{ $values.terminationGracePeriodSeconds }}
  securityContext:
    {{- toYaml $values.podSecurityContext | nindent 4 }}
  {{- with $values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if $values.plugins.packages }}
  initContainers:
    - name: plugins
      image: {{ include "protes.image" $root }}
      imagePullPolicy: {{ $values.image.pullPolicy }}
      # Installs the plugins beside the image's plugins package.json, without their peer
      # dependencies: the gateway gives every plugin its own copy of Nest and the SDK.
      command:
        - sh
        - -c
        - cp /opt/protes/plugins/package.json /plugins/ && cd /plugins && npm install --legacy-peer-deps --no-audit --no-fund "$@"
        - plugins
      args:
        {{- toYaml $values.plugins.packages | nindent 8 }}
      env:
        - name: HOME
          value: /tmp
        - name: npm_config_cache
          value: /tmp/npm-cache
        {{- with $values.plugins.npmRegistry }}
        - name: npm_config_registry
          value: {{ . | quote }}
        {{- end }}
      securityContext:
        {{- toYaml $values.securityContext | nindent 8 }}
      volumeMounts:
        - name: plugins
          mountPath: /plugins
        - name: tmp
          mountPath: /tmp
  {{- end }}
  containers:
    - name: {{ .component }}
      image: {{ include "protes.image" $root }}
      imagePullPolicy: {{ $values.image.pullPolicy }}
      args: [{{ .component }}]
      ports:
        - name: http
          containerPort: {{ $values.port }}
      env:
        - name: PROTES_CONFIG
          value: /etc/protes/protes.yaml
        - name: PROTES_SERVER__HOST
          value: 0.0.0.0
        - name: PROTES_SERVER__PORT
          value: {{ $values.port | quote }}
        {{- if include "protes.distributed" $root }}
        - name: PROTES_STORE__DRIVER
          value: mongo
        - name: PROTES_STORE__MONGO_URL_FILE
          value: /etc/protes/secrets/mongodb-url
        - name: PROTES_BUS__DRIVER
          value: rabbitmq
        - name: PROTES_BUS__URL_FILE
          value: /etc/protes/secrets/amqp-url
        {{- else }}
        - name: PROTES_STORE__DRIVER
          value: sqlite
        - name: PROTES_STORE__SQLITE_PATH
          value: /var/lib/protes/protes.db
        - name: PROTES_BUS__DRIVER
          value: in-process
        {{- end }}
        {{- with $settings.nodeOptions }}
        # Without it V8 picks the heap's limit itself and, on Node 24, lets the heap grow far past
        # the live data before it collects (README "Performance"): near the container's memory
        # limit the pod would be killed rather than collect.
        - name: NODE_OPTIONS
          value: {{ . | quote }}
        {{- end }}
        {{- with $values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      startupProbe:
        httpGet:
          path: /health/live
          port: http
        periodSeconds: {{ $values.probes.startup.periodSeconds }}
        failureThreshold: {{ $values.probes.startup.failureThreshold }}
      readinessProbe:
        httpGet:
          path: /health
          port: http
        periodSeconds: {{ $values.probes.readiness.periodSeconds }}
        failureThreshold: {{ $values.probes.readiness.failureThreshold }}
      livenessProbe:
        httpGet:
          path: /health/live
          port: http
        periodSeconds: {{ $values.probes.liveness.periodSeconds }}
        failureThreshold: {{ $values.probes.liveness.failureThreshold }}
      {{- with $settings.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $values.securityContext | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: /etc/protes/protes.yaml
          subPath: protes.yaml
          readOnly: true
        - name: tmp
          mountPath: /tmp
        {{- if include "protes.distributed" $root }}
        - name: secrets
          mountPath: /etc/protes/secrets
          readOnly: true
        {{- else }}
        - name: data
          mountPath: /var/lib/protes
        {{- end }}
        {{- if include "protes.hasNodeCredentials" $root }}
        - name: node-credentials
          mountPath: /etc/protes/node-credentials
          readOnly: true
        {{- end }}
        {{- if $values.plugins.packages }}
        - name: plugins
          mountPath: /opt/protes/plugins
          readOnly: true
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "protes.fullname" $root }}-config
    - name: tmp
      emptyDir: {}
    {{- if include "protes.distributed" $root }}
    - name: secrets
      secret:
        secretName: {{ include "protes.secretName" $root }}
        items:
          - key: mongodb-url
            path: mongodb-url
          - key: amqp-url
            path: amqp-url
    {{- else }}
    - name: data
      persistentVolumeClaim:
        claimName: {{ default (printf "%s-data" (include "protes.fullname" $root)) $values.persistence.existingClaim }}
    {{- end }}
    {{- if include "protes.hasNodeCredentials" $root }}
    - name: node-credentials
      secret:
        secretName: {{ include "protes.nodeCredentialsSecretName" $root }}
    {{- end }}
    {{- if $values.plugins.packages }}
    - name: plugins
      emptyDir: {}
    {{- end }}
  {{- with $settings.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $settings.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if $settings.affinity }}
  affinity:
    {{- toYaml $settings.affinity | nindent 4 }}
  {{- else if and (not (include "protes.distributed" $root)) (eq $values.persistence.accessMode "ReadWriteOnce") }}
  # A ReadWriteOnce volume is mounted on one node at a time: every pod that shares it must run
  # there (the seed chart's rule; with strategy Recreate, the gateway never overlaps itself).
  affinity:
    podAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        - topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "protes.selectorLabels" . | nindent 14 }}
  {{- end }}
{{- end -}}

{{- define "protes.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Whether the TES API is exposed outside the cluster: an Ingress with a host, or Routes. */}}
{{- define "protes.exposed" -}}
{{- if or (eq .Values.clusterType "openshift") .Values.applicationDomain }}true{{ end -}}
{{- end -}}

{{/* A user name or password for a URL: urlquery writes a space as "+", which URLs read as "+". */}}
{{- define "protes.urlEscape" -}}
{{- urlquery . | replace "+" "%20" -}}
{{- end -}}
