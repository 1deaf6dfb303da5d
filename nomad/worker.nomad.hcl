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

variable "worker_count" {
  description = "Number of ARQ worker allocations."
  type        = number
  default     = 2
}

job "expense-wise-worker" {
  type        = "service"
  datacenters = var.datacenters

  meta {
    image_tag = var.image_tag
  }

  # Health is the metrics endpoint the worker serves on WORKER_METRICS_PORT.
  update {
    max_parallel     = 1
    health_check     = "checks"
    min_healthy_time = "20s"
    healthy_deadline = "5m"
    auto_revert      = true
  }

  group "worker" {
    count = var.worker_count

    spread {
      attribute = "${node.unique.name}"
    }

    network {
      port "metrics" {
        to = 9100
      }
    }

    restart {
      attempts = 3
      interval = "5m"
      delay    = "15s"
      mode     = "delay"
    }

    # The worker serves Prometheus metrics from its own process (WORKER_METRICS_PORT): an
    # answer means its event loop is alive; a hung worker is restarted.
    service {
      name     = "expense-wise-worker"
      provider = "nomad"
      port     = "metrics"
      tags     = ["metrics"]

      check {
        name     = "metrics"
        type     = "http"
        path     = "/metrics"
        interval = "15s"
        timeout  = "3s"

        check_restart {
          limit = 3
          grace = "60s"
        }
      }
    }

    task "worker" {
      driver = "docker"
      # Same non-root uid:gid as the image and the Kubernetes securityContext.
      user = "10001:10001"
      # ARQ finishes the running job on SIGTERM; OCR of a large receipt takes a while.
      kill_signal  = "SIGTERM"
      kill_timeout = "60s"

      config {
        image           = "${var.image}:${var.image_tag}"
        args            = ["worker"]
        ports           = ["metrics"]
        readonly_rootfs = true
        cap_drop        = ["ALL"]
        security_opt    = ["no-new-privileges"]

        mount {
          type   = "tmpfs"
          target = "/tmp"
          tmpfs_options {
            size = 1073741824
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

      # Memory follows the measured OCR peak (bench/ocr_accuracy.py, worker-like process with
      # WORKER_CONCURRENCY=2): RapidOCR reading two of the largest scans at once, Tesseract
      # children included, stays under 1.5 GB.
      resources {
        cpu        = 500
        memory     = 1024
        memory_max = 1536
      }
    }
  }
}
