"""The application factory: plugins, controllers, middleware, dependencies and exception
handlers assembled in one place."""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from arq.connections import ArqRedis
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from expense_wise import __version__, metrics
from expense_wise.api import (
    ApiRequest,
    data_error_handler,
    database_error_handler,
    domain_error_handler,
    http_exception_handler,
    integrity_error_handler,
    internal_error_handler,
    pool_timeout_handler,
)
from expense_wise.contract import OptionsAllow, install_contract
from expense_wise.db.engine import (
    create_engine,
    create_readiness_engine,
    create_session_factory,
)
from expense_wise.deps import DEPENDENCIES
from expense_wise.domain.accounts.auth import (
    PUBLIC_PATHS,
    AccountStates,
    BearerAuthMiddleware,
    VerifiedTokenCache,
)
from expense_wise.domain.accounts.controllers import (
    AuthController,
    MeController,
    TokenController,
)
from expense_wise.domain.accounts.email_controllers import EmailAuthController
from expense_wise.domain.budgets.controllers import BudgetController
from expense_wise.domain.categories.controllers import CategoryController
from expense_wise.domain.expenses.controllers import ExpenseController
from expense_wise.domain.notifications.lifespan import outbox_metrics
from expense_wise.domain.ops.controllers import OpsController
from expense_wise.domain.ops.readiness import readiness_gauges
from expense_wise.domain.receipts.controllers import receipt_routes
from expense_wise.domain.receipts.metrics import receipt_gauges
from expense_wise.domain.recurring.controllers import RecurringExpenseController
from expense_wise.domain.reports.controllers import ReportController
from expense_wise.error_tracking import asgi_middleware, init_error_tracking
from expense_wise.errors import DomainError
from expense_wise.jobs import JOB_REGISTRY
from expense_wise.logging import configure_logging, get_logger
from expense_wise.middleware import RequestLogMiddleware, security_headers
from expense_wise.ratelimit import (
    MemoryCounterStore,
    RateLimiter,
    RateLimitMiddleware,
    RedisCounterStore,
)
from expense_wise.runtime.arq_runner import ArqQueue
from expense_wise.runtime.in_process import InProcessQueue
from expense_wise.runtime.jobs import job_context
from expense_wise.settings import Settings, load_settings, with_local_jwt_secret
from expense_wise.storage import create_storage
from expense_wise.strict_input import strict_json_body, strict_query
from expense_wise.web.docs import OfflineSwaggerUI, docs_router
from expense_wise.web.pages import EmailLinkPages, root, static_files, template_config

log = get_logger("expense_wise")


class MetricsController(PrometheusController):
    path = "/metrics"
    include_in_schema = False


def create_app(settings: Settings | None = None) -> Litestar:
    settings = with_local_jwt_secret(settings or load_settings())
    configure_logging(settings.server.log_level, json_output=settings.app_env == "production")
    init_error_tracking(settings, "api")

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        state = app.state
        state.started_at = time.monotonic()
        state.engine = create_engine(settings.database)
        metrics.instrument_pool(state.engine)
        state.session_factory = create_session_factory(state.engine)
        state.readiness_engine = create_readiness_engine(settings.database)
        state.storage = create_storage(settings.storage)
        state.verified_tokens = VerifiedTokenCache()
        state.account_states = AccountStates(
            state.session_factory, settings.auth.revocation_check_interval
        )
        in_process: InProcessQueue | None = None
        if settings.redis.url:
            state.redis = ArqRedis.from_url(
                settings.redis.url, socket_connect_timeout=2, socket_timeout=5
            )
            state.queue = ArqQueue(state.redis, settings.redis.queue_name)
            state.rate_limiter = RateLimiter(
                RedisCounterStore(state.redis, settings.redis.key_prefix),
                timeout_seconds=settings.redis.rate_limit_timeout_ms / 1000,
            )
        else:
            state.redis = None
            in_process = InProcessQueue(JOB_REGISTRY, settings.worker.concurrency)
            # The jobs share this process's engine: one pool per process.
            await in_process.start(
                job_context(settings, state.session_factory, state.storage, in_process)
            )
            state.queue = in_process
            state.rate_limiter = RateLimiter(MemoryCounterStore())
        log.info("expense-wise started", version=__version__, **settings.describe())
        # The modules, routes and compiled statements loaded so far live as long as the
        # process. Freezing them keeps the garbage collector's full passes, which would
        # otherwise walk all of them every few hundred requests and stall every request in
        # flight, down to the objects requests create.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if in_process is not None:
                await in_process.stop()
            if state.redis is not None:
                await state.redis.aclose()
            await state.engine.dispose()
            await state.readiness_engine.dispose()

    cors = (
        CORSConfig(
            allow_origins=list(settings.server.allowed_origins),
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=[
                "X-Request-ID",
                "Retry-After",
                "RateLimit-Limit",
                "RateLimit-Remaining",
            ],
            allow_credentials=False,
            max_age=600,
        )
        if settings.server.allowed_origins
        else None
    )
    prometheus = PrometheusConfig(
        app_name="expense-wise",
        prefix="http",
        group_path=True,
        exclude=["^/metrics$"],
        # 0.3 is the latency objective's threshold (monitoring/slos.yaml).
        buckets=[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.3, 0.5, 1, 2.5, 5, 10],
    )
    options_allow = OptionsAllow()
    app = Litestar(
        route_handlers=[
            OpsController,
            # With METRICS_PORT, `serve` answers /metrics on that port only.
            *([MetricsController] if settings.server.metrics_port is None else []),
            AuthController,
            MeController,
            TokenController,
            CategoryController,
            ExpenseController,
            ReportController,
            EmailAuthController,
            BudgetController,
            RecurringExpenseController,
            receipt_routes(settings.storage.receipt_max_bytes),
            EmailLinkPages,
            root,
            static_files(),
        ],
        template_config=template_config(),
        dependencies=DEPENDENCIES,
        middleware=[
            *asgi_middleware(),
            RequestLogMiddleware,
            prometheus.middleware,
            DefineMiddleware(BearerAuthMiddleware, exclude=PUBLIC_PATHS),
            RateLimitMiddleware,
        ],
        exception_handlers={
            HTTPException: http_exception_handler,
            DomainError: domain_error_handler,
            IntegrityError: integrity_error_handler,
            DataError: data_error_handler,
            DBAPIError: database_error_handler,
            PoolTimeoutError: pool_timeout_handler,
            Exception: internal_error_handler,
        },
        before_send=[security_headers(settings.server.hsts_max_age), options_allow],
        cors_config=cors,
        request_class=ApiRequest,
        request_max_body_size=settings.server.max_request_bytes,
        openapi_config=OpenAPIConfig(
            title="Expense-Wise API",
            version=__version__,
            description="Self-hostable expense tracking: accounts, expenses, budgets, "
            "receipts with OCR, reports.",
            path="/schema",
            render_plugins=[OfflineSwaggerUI()],
            openapi_router=docs_router(before_request=install_contract),
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        bearer_format="JWT or personal access token (ewp_...)",
                    )
                }
            ),
            use_handler_docstrings=True,
        ),
        state=State({"settings": settings}),
        lifespan=[lifespan, readiness_gauges, receipt_gauges, outbox_metrics],
        logging_config=None,
        debug=False,
        guards=[strict_query, strict_json_body],
    )
    options_allow.learn(app)
    return app
