"""What every staff page does to answer: render its template with the signed-in staff."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from web.deps import WebApp
from web.security import Staff


def page(
    app: WebApp, request: Request, name: str, staff: Staff, status: int = 200, **ctx: Any
) -> Response:
    return app.templates.TemplateResponse(
        request, name, {"staff": staff, **ctx}, status_code=status
    )
