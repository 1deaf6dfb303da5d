from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Response, Router, delete, get, post
from litestar.datastructures import State, UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, QueryParameter
from litestar.response import Redirect
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_307_TEMPORARY_REDIRECT
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise.api import error_responses
from expense_wise.domain.expenses import schemas as expense_schemas
from expense_wise.domain.receipts import schemas, services
from expense_wise.fields import NO_NUL
from expense_wise.paging import CURSOR_PATTERN
from expense_wise.security import AuthUser

# Room for the multipart envelope around a file of the maximum size.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
JSON_BODY_MAX_BYTES = 64 * 1024


@dataclass
class ReceiptUpload:
    file: UploadFile


class ReceiptController(Controller):
    tags = ["receipts"]

    @post(
        "/api/v1/receipts",
        operation_id="uploadReceipt",
        summary="Upload a receipt",
        status_code=HTTP_202_ACCEPTED,
        responses=error_responses(409, 413, 415, 503),
        description="Store a receipt (JPEG, PNG, WebP, TIFF or PDF, judged by its bytes) and "
        "queue OCR. Poll the receipt until its status is done or failed.",
    )
    async def upload_receipt(
        self,
        state: State,
        session: AsyncSession,
        current_user: AuthUser,
        data: Annotated[ReceiptUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Response[schemas.Receipt]:
        """Store a receipt (JPEG, PNG, WebP, TIFF or PDF, judged by its bytes; multipart field
        `file`) and queue OCR. Poll the receipt until its status is `done` or `failed`."""
        content = await data.file.read()
        row = await services.create_receipt(
            session,
            state.storage,
            current_user.id,
            content,
            state.settings.storage.receipt_max_bytes,
            state.settings.worker.receipt_stale_seconds,
        )
        await services.queue_processing(state.queue, session, row)
        return Response(
            services.to_schema(row),
            status_code=HTTP_202_ACCEPTED,
            headers={"Location": f"/api/v1/receipts/{row.id}"},
        )

    @get(
        "/api/v1/receipts",
        operation_id="listReceipts",
        summary="List receipts",
        responses=error_responses(),
    )
    async def list_receipts(
        self,
        session: AsyncSession,
        current_user: AuthUser,
        page_limit: int,
        cursor: Annotated[str | None, QueryParameter(name="cursor", pattern=CURSOR_PATTERN)] = None,
        q: Annotated[
            str | None,
            QueryParameter(
                name="q",
                max_length=200,
                pattern=NO_NUL,
                description="Text in the OCR text or merchant",
            ),
        ] = None,
        status: Annotated[schemas.ReceiptStatus | None, QueryParameter(name="status")] = None,
    ) -> schemas.ReceiptPage:
        """Newest first, optionally filtered by status or by text read from them. Follow
        `next_cursor` for further pages."""
        rows, next_cursor = await services.list_receipts(
            session, current_user.id, page_limit, cursor, q=q, status=status
        )
        return schemas.ReceiptPage(
            items=[services.to_schema(row) for row in rows], next_cursor=next_cursor
        )

    @get(
        "/api/v1/receipts/{receipt_id:uuid}",
        operation_id="getReceipt",
        summary="Get a receipt",
        responses=error_responses(404),
    )
    async def get_receipt(
        self, session: AsyncSession, current_user: AuthUser, receipt_id: uuid.UUID
    ) -> schemas.Receipt:
        """The receipt's processing status and, once done, what OCR read and how sure it is."""
        return services.to_schema(await services.get_receipt(session, current_user.id, receipt_id))

    @get(
        "/api/v1/receipts/{receipt_id:uuid}/file",
        operation_id="downloadReceiptFile",
        summary="Download a receipt's file",
        responses=error_responses(404, 503),
        description="The original file, or a redirect to a short-lived download URL when "
        "receipts are stored in S3.",
    )
    async def download_receipt_file(
        self, state: State, session: AsyncSession, current_user: AuthUser, receipt_id: uuid.UUID
    ) -> Response[Any]:
        """The original file, or a 307 redirect to a short-lived download URL when receipts are
        stored in S3."""
        row = await services.get_receipt(session, current_user.id, receipt_id)
        url, content = await services.download(state.storage, row)
        if url is not None:
            return Redirect(
                url, status_code=HTTP_307_TEMPORARY_REDIRECT, headers={"Cache-Control": "no-store"}
            )
        return Response(
            content=content,
            media_type=row.content_type,
            headers={
                "Content-Disposition": f'attachment; filename="{services.file_name(row)}"',
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "private, no-store",
            },
        )

    @post(
        "/api/v1/receipts/{receipt_id:uuid}/expense",
        operation_id="createExpenseFromReceipt",
        summary="Create an expense from a receipt",
        status_code=HTTP_201_CREATED,
        responses=error_responses(404, 409),
        request_max_body_size=JSON_BODY_MAX_BYTES,
        description="Create an expense from the fields OCR read; values in the body win.",
    )
    async def create_expense_from_receipt(
        self,
        session: AsyncSession,
        current_user: AuthUser,
        receipt_id: uuid.UUID,
        data: schemas.ExpenseFromReceipt | None = None,
    ) -> Response[expense_schemas.Expense]:
        """Create an expense from the fields OCR read; values in the body win. Fields OCR could
        not read must be sent; a receipt that needs review answers 409 unless they are sent or
        `confirm` is true."""
        expense = await services.create_expense_from_receipt(
            session, current_user.id, receipt_id, data or schemas.ExpenseFromReceipt()
        )
        return Response(
            expense,
            status_code=HTTP_201_CREATED,
            headers={"Location": f"/api/v1/expenses/{expense.id}"},
        )

    @delete(
        "/api/v1/receipts/{receipt_id:uuid}",
        operation_id="deleteReceipt",
        summary="Delete a receipt",
        responses=error_responses(404, 503),
    )
    async def delete_receipt(
        self, state: State, session: AsyncSession, current_user: AuthUser, receipt_id: uuid.UUID
    ) -> None:
        """The receipt and its file are removed; an expense made from it stays."""
        await services.delete_receipt(session, state.storage, current_user.id, receipt_id)


def receipt_routes(max_file_bytes: int) -> Router:
    """The receipt routes, with a request size limit that follows RECEIPT_MAX_BYTES (the
    app-wide limit is far smaller; handlers with a body of their own set theirs)."""
    return Router(
        path="/",
        route_handlers=[ReceiptController],
        request_max_body_size=max_file_bytes + MULTIPART_OVERHEAD_BYTES,
    )
