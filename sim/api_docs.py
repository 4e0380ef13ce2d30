"""`/_sim/docs`: every simulated API and test control, on one page that needs no internet.

FastAPI's Swagger UI loads its script and styles from a CDN, so on a machine without
internet it is blank. This page is built from the same OpenAPI document
(`/_sim/openapi.json`) and served whole: each route's method, path, parameters, body and what
it does, grouped by stand-in, with nothing fetched from elsewhere.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

_METHODS = ("get", "post", "put", "patch", "delete")

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>deskflow stand-ins: APIs</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 75rem; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 1.5rem; }}
th, td {{ text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #ddd;
  vertical-align: top; }}
th {{ background: #f4f4f4; }}
code {{ white-space: nowrap; }} .muted {{ color: #777; }}
.method {{ font-weight: 600; font-family: monospace; }}
</style></head>
<body><p class="muted"><a href="/">stand-ins</a></p>
<h1>Simulated APIs and test controls</h1>
<p>Call them with any HTTP client (<code>curl -X POST {example}</code>). The machine-readable
description is <a href="{openapi}">{openapi}</a>.</p>
{sections}</body></html>"""


def _group(path: str, operation: dict[str, Any]) -> str:
    if operation.get("tags"):
        return str(operation["tags"][0])
    for prefix, name in (
        ("/TDWebApi/", "TeamDynamix API"),
        ("/slack/", "Slack API"),
        ("/halo/", "HaloPSA API"),
        ("/servicenow/", "ServiceNow API"),
        ("/pagerduty/", "PagerDuty Events API"),
        ("/_sim/halo", "sim: halo"),
        ("/_sim/servicenow", "sim: servicenow"),
        ("/_sim/pagerduty", "sim: pagerduty"),
        ("/mailbox", "sim: mailbox"),
    ):
        if path.startswith(prefix):
            return name
    return "Other"


def _schema_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref else str(schema.get("type", "JSON"))


def _row(method: str, path: str, operation: dict[str, Any]) -> str:
    params = ", ".join(
        f"{p['name']} ({p['in']})" for p in operation.get("parameters", []) if "name" in p
    )
    content = operation.get("requestBody", {}).get("content", {})
    body = ", ".join(
        f"{kind}: {_schema_name(spec.get('schema', {}))}" for kind, spec in content.items()
    )
    what = operation.get("description") or operation.get("summary") or ""
    return (
        f"<tr><td class='method'>{method.upper()}</td><td><code>{html.escape(path)}</code></td>"
        f"<td>{html.escape(params)}</td><td>{html.escape(body)}</td>"
        f"<td>{html.escape(what.strip().splitlines()[0] if what.strip() else '')}</td></tr>"
    )


def render(schema: dict[str, Any], base_url: str) -> str:
    """The page for an OpenAPI document served at `base_url`."""
    groups: dict[str, list[str]] = {}
    for path, item in schema.get("paths", {}).items():
        for method in _METHODS:
            if method in item:
                groups.setdefault(_group(path, item[method]), []).append(
                    _row(method, path, item[method])
                )
    sections = "".join(
        f"<h2>{html.escape(name)}</h2><table><tr><th>Method</th><th>Path</th>"
        "<th>Parameters</th><th>Body</th><th>What it does</th></tr>" + "".join(rows) + "</table>"
        for name, rows in sorted(groups.items())
    )
    return _PAGE.format(
        sections=sections,
        openapi="/_sim/openapi.json",
        example=html.escape(f"{base_url.rstrip('/')}/_sim/tdx/reset"),
    )


def install(app: FastAPI, path: str = "/_sim/docs") -> None:
    """Serve the page at `path` (create the app with `docs_url=None`)."""

    @app.get(path, response_class=HTMLResponse, include_in_schema=False)
    async def docs(request: Request) -> str:
        return render(app.openapi(), str(request.base_url))
