"""Reusing a synchronous provider's own request building and reply reading for batch requests.

Providers send every request through one method, `_send(request) -> reply`. A twin of the provider
has that method swapped: to capture a request, it keeps the request the provider built and stops
there; to read a batch result, it hands the result back as the reply the provider would have got.
So batch requests and replies are exactly those of the synchronous provider, with no second copy.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable

from constitutional.models.base import ChatModel, Completion

Send = Callable[[ChatModel], Awaitable[Completion]]  # one synchronous call, made with the given provider


class _Captured(Exception):
    pass


class ProviderIO:
    def __init__(self, model: ChatModel):
        self.twin = copy.copy(model)

    async def request(self, send: Send) -> dict:
        """The request the provider builds for this call."""
        captured = []

        async def capture(request: dict):
            captured.append(request)
            raise _Captured

        self.twin._send = capture
        try:
            await send(self.twin)
        except _Captured:
            return captured[0]
        raise AssertionError("the provider sent no request")

    async def read(self, reply, send: Send) -> Completion:
        """The Completion the provider makes of `reply` (what its `_send` returns), as for a synchronous call."""
        async def give(request: dict):
            return reply

        self.twin._send = give
        return await send(self.twin)
