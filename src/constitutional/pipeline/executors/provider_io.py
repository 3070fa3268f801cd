"""Reusing a synchronous provider's own request building and reply reading for batch requests.

A twin of the provider sends its HTTP requests to this object instead of the network: a request is
captured as the body the provider would have sent, and a batch result is handed back as the HTTP
reply the provider would have received. So batch requests and replies are exactly those of the
synchronous provider, whatever SDK call it makes, with no second copy of that code.
"""

from __future__ import annotations

import copy
import importlib
import json
from collections.abc import Awaitable, Callable
from types import ModuleType

from constitutional.models.base import ChatModel, Completion

Send = Callable[[ChatModel], Awaitable[Completion]]  # one synchronous call, made with the given provider


class ProviderIO:
    def __init__(self, model: ChatModel, sdk: ModuleType):
        self._sent: dict | None = None
        self._reply: dict | None = None
        self._httpx = _http_module(sdk)
        self._http = sdk.DefaultAsyncHttpxClient(transport=self._httpx.MockTransport(self._handle))
        self.twin = copy.copy(model)
        self.twin.client = model.client.with_options(http_client=self._http, max_retries=0)

    def _handle(self, request):
        self._sent = json.loads(request.content)
        if self._reply is None:  # only capturing: refuse, so the provider stops there
            return self._httpx.Response(418, json={"error": {"type": "captured", "message": "request captured"}})
        return self._httpx.Response(200, json=self._reply)

    async def request(self, send: Send) -> dict:
        """The request body the provider builds for this call."""
        self._sent, self._reply = None, None
        try:
            await send(self.twin)
        except Exception:  # noqa: BLE001 - the refusal above, as whatever error the provider makes of it
            pass
        if self._sent is None:
            raise AssertionError("the provider sent no request")
        return self._sent

    async def read(self, reply: dict, send: Send) -> Completion:
        """The Completion the provider makes of `reply` (a response body), as for a synchronous call."""
        self._reply = reply
        try:
            return await send(self.twin)
        finally:
            self._reply = None

    async def aclose(self) -> None:
        await self._http.aclose()


def _http_module(sdk: ModuleType) -> ModuleType:
    """httpx, or the fork of it an SDK may use instead (its own http client class says which)."""
    base = next(c for c in sdk.DefaultAsyncHttpxClient.__mro__[1:] if c.__name__ == "AsyncClient")
    return importlib.import_module(base.__module__.split(".")[0])
