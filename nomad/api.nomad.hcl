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

variable "api_count" {
  description = "Number of API allocations (the Kubernetes HPA floor is 3)."
  type        = number
  default     = 3
}

job "expense-wise-api" {
  type        = "service"
  datacenters = var.datacenters

  meta {
    image_tag = var.image_tag
  }

  # One canary per rollout; it must pass /health and /ready for min_healthy_time
  # before the rest follow. A failed rollout reverts to the last stable version.
  update {
    max_parallel      = 1
    canary            = 1
    auto_promote      = true
    auto_revert       = true
    health_check      = "checks"
    min_healthy_time  = "15s"
    healthy_deadline  = "3m"
    progress_deadline = "10m"
    stagger           = "15s"
  }

  group "api" {
    count = var.api_count

    spread {
      attribute = "${node.unique.name}"
    }

    network {
      port "http" {
        to = 8000
      }
      # /metrics (METRICS_PORT), registered as its own service for Prometheus only.
      port "metrics" {
        to = 9101
      }
    }

    restart {
      attempts = 3
      interval = "5m"
      delay    = "15s"
      mode     = "delay"
    }

    service {
      name     = "expense-wise-api"
      provider = "nomad"
      port     = "http"
      tags     = ["http"]

      check {
        name     = "health"
        type     = "http"
        path     = "/health"
        interval = "10s"
        timeout  = "2s"

        # A hung API (liveness fails) is restarted; readiness below only gates traffic.
        check_restart {
          limit = 3
          grace = "30s"
        }
      }

      check {
        name     = "ready"
        type     = "http"
        path     = "/ready"
        interval = "5s"
        timeout  = "3s"
      }
    }

    # Prometheus scrapes /metrics here (roles/prometheus, prometheus_nomad_services); the
    # load balancer routes only to the http service above.
    service {
      name     = "expense-wise-api-metrics"
      provider = "nomad"
      port     = "metrics"
      tags     = ["metrics"]
    }

    task "api" {
      driver = "docker"
      # Same non-root uid:gid as the image and the Kubernetes securityContext.
      user = "10001:10001"
      # Deregister the service first so the load balancer stops routing here, then
      # SIGTERM; the server drains for up to 30 s (SHUTDOWN_TIMEOUT), so kill after 45 s.
      shutdown_delay = "5s"
      kill_signal    = "SIGTERM"
      kill_timeout   = "45s"

      config {
        image           = "${var.image}:${var.image_tag}"
        args            = ["serve"]
        ports           = ["http", "metrics"]
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
