# Expense-Wise developer commands. `make run` and `make test` are the two a newcomer needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV ?= $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PORT ?= 8000
export PORT

.PHONY: help run test test-fast mutation lint typecheck openapi monitoring infra-check image image-test bench bench-api bench-scale bench-ocr bench-backup clean

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(UV):
	@bash scripts/bootstrap-uv.sh

# Everything: the runtime, dev/test tools and the infrastructure checkers (make test & co).
# python-hcl2 is reinstalled because venvs made before checkov left the infra group had
# checkov's fork of it in the same `hcl2` folder, and removing the fork deletes shared files.
.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-groups --reinstall-package python-hcl2
	@touch $@

# Only what serving needs, for `make run`. --inexact keeps the tools of an earlier
# `make test` instead of uninstalling them.
.venv/.synced-runtime: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --no-dev --inexact
	@touch $@

run: .venv/.synced-runtime ## Serve the API on http://127.0.0.1:$(PORT) (embedded default: SQLite, jobs in-process)
	.venv/bin/expense-wise serve

test: ## Install what tests need (apt + Python), start local servers if needed, run the whole suite
	@bash scripts/test.sh

test-fast: .venv/.synced ## Run the suite without installing system packages
	.venv/bin/pytest -q

mutation: .venv/.synced ## Mutation testing of the core modules ([tool.mutmut]): a score per module, >= 85%
	.venv/bin/python scripts/mutation.py

lint: .venv/.synced ## ruff lint + format check, duplicate-code scan (pylint)
	.venv/bin/ruff check src tests bench monitoring scripts/import_graph.py
	.venv/bin/ruff format --check src tests bench monitoring scripts/import_graph.py
	@# No block of six or more lines repeated (docs/architecture.md); pinned, outside the lock.
	$(UV) tool run --quiet pylint==4.1.4 --disable=all --enable=duplicate-code \
		--min-similarity-lines=6 --ignore=migrations --score=no src/expense_wise

typecheck: .venv/.synced ## mypy (strict) on src/
	.venv/bin/mypy

openapi: .venv/.synced ## Refresh the committed OpenAPI contract (openapi.json) after an intended API change
	.venv/bin/python scripts/export_openapi.py

monitoring: .venv/.synced ## Render monitoring/slos.yaml into Prometheus rules, k8s monitoring resources, dashboards
	.venv/bin/python -m monitoring.render

infra-check: .venv/.synced ## Offline checks of k8s/, nomad/, terraform/, ansible and the Dockerfile
	bash scripts/check-infra.sh

image: ## Build the container image (docker, or buildah without a Docker engine)
	bash scripts/image.sh

image-test: ## Build the image and run the product inside it end to end
	bash scripts/image-test.sh

bench-api: .venv/.synced ## Load benchmark of the API vs the reference app (PostgreSQL + Redis)
	bash bench/api.sh

bench-scale: .venv/.synced ## Reports, export, import, search, deletes at 10k/100k/1M expenses vs PostgreSQL itself
	bash bench/scale.sh

bench-ocr: .venv/.synced ## OCR extraction accuracy and speed on ../shared/data/receipts
	.venv/bin/python bench/ocr_accuracy.py
	.venv/bin/python bench/ocr_speed.py

bench-backup: .venv/.synced ## backup create/restore of 1M expenses vs plain pg_dump/pg_restore
	bash bench/backup.sh

clean: ## Remove the virtual environment and local data
	rm -rf .venv var .pytest_cache .mypy_cache .ruff_cache
