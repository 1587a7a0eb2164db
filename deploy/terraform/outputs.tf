output "pgbouncer_connection_strings" {
  description = "Per service: the connection string through linkpool (Kubernetes)"
  sensitive   = true
  value = {
    for s in var.services :
    s => "postgresql://${local.users[s]}:${random_password.service[s].result}@${var.pgbouncer_host}:${var.pgbouncer_port}/${s}?sslmode=disable"
  }
}

output "service_environment" {
  description = "Per service: the seed's <SERVICE>_DB_* variables"
  sensitive   = true
  value = {
    for s in var.services : s => {
      "${upper(s)}_DB_HOST"     = var.pgbouncer_host
      "${upper(s)}_DB_PORT"     = tostring(var.pgbouncer_port)
      "${upper(s)}_DB_NAME"     = s
      "${upper(s)}_DB_USER"     = local.users[s]
      "${upper(s)}_DB_PASSWORD" = random_password.service[s].result
    }
  }
}

output "secret_name" {
  description = "Namespace/name of the Secret the Deployment reads"
  value       = "${var.namespace}/${var.secret_name}"
}
