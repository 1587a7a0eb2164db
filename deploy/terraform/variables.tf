variable "kubeconfig_path" {
  description = "kubeconfig used by the kubernetes provider"
  type        = string
  default     = "~/.kube/config"
}

variable "kube_context" {
  description = "kubeconfig context; null: the current one"
  type        = string
  default     = null
}

variable "namespace" {
  description = "Namespace of linkpool (the seed's link-internal); created by deploy/k8s/namespace.yaml unless create_namespace is true"
  type        = string
  default     = "link-internal"
}

variable "create_namespace" {
  description = "Create the namespace here instead of with deploy/k8s/namespace.yaml"
  type        = bool
  default     = false
}

variable "services" {
  description = "Link services that get a database, a user and a generated password"
  type        = list(string)
  default = [
    "user_service",
    "chat_service",
    "ai_service",
    "discovery_service",
    "search_service",
    "location_service",
    "stories_service",
    "opportunities_service",
  ]
}

variable "secret_name" {
  description = "Name of the Secret the pgbouncer Deployment reads (envFrom)"
  type        = string
  default     = "pgbouncer-credentials"
}

variable "pgbouncer_host" {
  description = "Host name services use to reach linkpool"
  type        = string
  default     = "pgbouncer-service.link-internal.svc.cluster.local"
}

variable "pgbouncer_port" {
  description = "Port services use to reach linkpool"
  type        = number
  default     = 5432
}

variable "password_length" {
  description = "Length of each generated password"
  type        = number
  default     = 32
}
