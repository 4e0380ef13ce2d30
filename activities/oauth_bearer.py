"""OAuth 2.0 bearer tokens for an httpx client, as an `httpx.Auth` flow.

ServiceNow (`POST /oauth_token.do`, form-encoded, grant_type `password` or
`client_credentials`) answers `{access_token, token_type: "Bearer", expires_in}`. The token
is kept until a minute before it expires, fetched again once when the API answers 401 (a
token revoked or expired early), and fetched by one request at a time: concurrent calls
wait for the same token instead of each logging in.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable

import httpx

from activities.itsm_http import raise_for

MARGIN_SECONDS = 60.0


class OAuthBearer(httpx.Auth):
    def __init__(
        self, token_url: str, form: dict[str, str], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.clock = clock
        self._url = token_url
        self._form = form
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self.logins = 0  # tokens fetched (tests read it)

    def _valid(self) -> bool:
        return self._token is not None and self.clock() < self._expires

    async def _take(self, response: httpx.Response) -> None:
        await response.aread()
        raise_for(response)  # bad client or user credentials: the ITSM's 401, not retried
        body = response.json()
        self._token = str(body["access_token"])
        lifetime = float(body.get("expires_in", 1800))
        self._expires = self.clock() + max(lifetime - MARGIN_SECONDS, lifetime / 2)
        self.logins += 1

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        async with self._lock:
            if not self._valid():
                await self._take((yield httpx.Request("POST", self._url, data=self._form)))
        sent = self._token
        request.headers["Authorization"] = f"Bearer {sent}"
        response = yield request
        if response.status_code != 401:
            return
        async with self._lock:
            if self._token == sent:  # nobody fetched a new one meanwhile
                await self._take((yield httpx.Request("POST", self._url, data=self._form)))
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request
