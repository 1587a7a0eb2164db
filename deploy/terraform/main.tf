# Credentials of Link's services for linkpool (the pgbouncer Deployment):
# one generated password per service plus the two admin console users,
# stored as the Kubernetes Secret that deploy/k8s/pgbouncer-deployment.yaml
# reads. Passwords live in the Terraform state: keep the state encrypted.
#
#   cd deploy/terraform
#   terraform init && terraform apply
#   terraform output -json pgbouncer_connection_strings

provider "kubernetes" {
  config_path    = pathexpand(var.kubeconfig_path)
  config_context = var.kube_context
}

locals {
  users = { for s in var.services : s => "${s}_user" }
}

# Letters and digits only: the passwords go into URLs and userlist.txt unescaped.
resource "random_password" "service" {
  for_each = toset(var.services)
  length   = var.password_length
  special  = false
}

resource "random_password" "pgbouncer_admin" {
  length  = var.password_length
  special = false
}

resource "random_password" "pgbouncer_stats" {
  length  = var.password_length
  special = false
}

resource "kubernetes_namespace_v1" "link_internal" {
  count = var.create_namespace ? 1 : 0
  metadata {
    name = var.namespace
    labels = {
      "app.kubernetes.io/part-of" = "link"
    }
  }
}

resource "kubernetes_secret_v1" "pgbouncer_credentials" {
  metadata {
    name      = var.secret_name
    namespace = var.create_namespace ? kubernetes_namespace_v1.link_internal[0].metadata[0].name : var.namespace
    labels = {
      app                         = "pgbouncer"
      "app.kubernetes.io/part-of" = "link"
    }
  }
  type = "Opaque"
  data = merge(
    { for s in var.services : "${upper(s)}_DB_USER" => local.users[s] },
    { for s in var.services : "${upper(s)}_DB_PASSWORD" => random_password.service[s].result },
    {
      PGBOUNCER_ADMIN_PASSWORD = random_password.pgbouncer_admin.result
      PGBOUNCER_STATS_PASSWORD = random_password.pgbouncer_stats.result
    },
  )
}
