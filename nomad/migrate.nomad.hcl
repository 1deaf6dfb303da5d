variable "image" {
  description = "Application image repository; the tag comes from image_tag."
  type        = string
  default     = "ghcr.io/expense-wise/expense-wise"
}

variable "image_tag" {
  description = "Image tag to run (CI publishes one per commit on main)."
  type        = string
  default     = "0.1.0"
}

variable "datacenters" {
  description = "Nomad datacenters the job may run in."
  type        = list(string)
  default     = ["*"]
}

variable "secrets_path" {
  description = "Nomad Variable holding DATABASE_URL, REDIS_URL, JWT_SECRET, SMTP_USER and SMTP_PASSWORD."
  type        = string
  default     = "expense-wise/secrets"
}

variable "config" {
  description = "Non-secret environment, the same keys as the Kubernetes ConfigMap. deploy.yml passes the inventory's expense_wise_nomad_jobs_config."
  type        = map(string)
  default = {
    APP_ENV           = "production"
    HOST              = "0.0.0.0"
    PORT              = "8000"
    WEB_CONCURRENCY   = "2"
    LOG_LEVEL         = "info"
    ALLOWED_ORIGINS   = "https://app.expense-wise.example"
    RATE_LIMIT_WINDOW = "60000"
    RATE_LIMIT_MAX    = "100"
    AUTH_RATE_LIMIT   = "10"
    AWS_REGION        = "eu-west-1"
    AWS_S3_BUCKET     = "expense-wise-receipts"
    BACKUP_S3_BUCKET  = "expense-wise-backups"
    RECEIPT_MAX_BYTES = "10485760"
    SMTP_HOST         = "email-smtp.eu-west-1.amazonaws.com"
    SMTP_PORT         = "587"
    SMTP_FROM         = "no-reply@expense-wise.example"
    PUBLIC_BASE_URL   = "https://api.expense-wise.example"
    SHUTDOWN_TIMEOUT  = "30"
    TRUSTED_PROXIES   = "10.0.0.0/16"
    WORKER_METRICS_PORT = "9100"
    METRICS_PORT        = "9101"
  }
}

# One-shot schema upgrade. deploy.yml registers it with the new image_tag, dispatches
# it (every dispatch is a fresh run, even when the spec did not change), waits for the
# allocation to complete, and only then updates the api and worker jobs.
job "expense-wise-migrate" {
  type        = "batch"
  datacenters = var.datacenters

  parameterized {
    payload = "forbidden"
  }

  meta {
    image_tag = var.image_tag
  }

  group "migrate" {
    count = 1

    # A failed migration must stop the deployment, not retry against a half-applied schema.
    restart {
      attempts = 0
      mode     = "fail"
    }

    reschedule {
      attempts  = 0
      unlimited = false
    }

    # The pre-deploy check, before the migration: `expense-wise preflight` reaches the
    # database, Redis, the buckets and SMTP with the app's configuration, and refuses a
    # schema newer than the image. A problem fails the allocation, so nothing is migrated
    # and deploy.yml stops before the api and worker jobs.
    task "preflight" {
      lifecycle {
        hook    = "prestart"
        sidecar = false
      }

      driver = "docker"
      # Same non-root uid:gid as the image and the Kubernetes securityContext.
      user = "10001:10001"

      config {
        image           = "${var.image}:${var.image_tag}"
        args            = ["preflight"]
        readonly_rootfs = true
        cap_drop        = ["ALL"]
        security_opt    = ["no-new-privileges"]

        mount {
          type   = "tmpfs"
          target = "/tmp"
          tmpfs_options {
            size = 268435456
          }
        }
      }

      env = var.config

      # Secrets never appear in the jobspec: they are rendered from a Nomad Variable
      # into the task's private secrets/ directory and exported as environment.
      template {
        destination = "secrets/app.env"
        env         = true
        change_mode = "restart"
        data        = <<-EOT
          {{- with nomadVar "${var.secrets_path}" }}
          DATABASE_URL={{ .DATABASE_URL }}
          REDIS_URL={{ .REDIS_URL }}
          JWT_SECRET={{ .JWT_SECRET }}
          SMTP_USER={{ .SMTP_USER }}
          SMTP_PASSWORD={{ .SMTP_PASSWORD }}
          {{- end }}
        EOT
      }

      resources {
        cpu        = 250
        memory     = 256
        memory_max = 512
      }
    }

    task "migrate" {
      driver = "docker"
      # Same non-root uid:gid as the image and the Kubernetes securityContext.
      user = "10001:10001"

      config {
        image           = "${var.image}:${var.image_tag}"
        args            = ["migrate"]
        readonly_rootfs = true
        cap_drop        = ["ALL"]
        security_opt    = ["no-new-privileges"]

        mount {
          type   = "tmpfs"
          target = "/tmp"
          tmpfs_options {
            size = 268435456
          }
        }
      }

      env = var.config

      # Secrets never appear in the jobspec: they are rendered from a Nomad Variable
      # into the task's private secrets/ directory and exported as environment.
      template {
        destination = "secrets/app.env"
        env         = true
        change_mode = "restart"
        data        = <<-EOT
          {{- with nomadVar "${var.secrets_path}" }}
          DATABASE_URL={{ .DATABASE_URL }}
          REDIS_URL={{ .REDIS_URL }}
          JWT_SECRET={{ .JWT_SECRET }}
          SMTP_USER={{ .SMTP_USER }}
          SMTP_PASSWORD={{ .SMTP_PASSWORD }}
          {{- end }}
        EOT
      }

      resources {
        cpu        = 250
        memory     = 256
        memory_max = 512
      }
    }
  }
}
