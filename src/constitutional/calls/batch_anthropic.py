"""Anthropic's Message Batches: the requests in one create call, the results streamed back in any
order and joined by custom_id. Each request's params are what the anthropic provider builds (`build_request`),
and each result message is read by it (`read_reply`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anthropic

from constitutional.calls.batch import Polled
from constitutional.models.base import Completion, ModelError
from constitutional.models.http_errors import from_sdk_exception, is_retryable

if TYPE_CHECKING:
    from collections.abc import Callable

    from anthropic.types.messages import MessageBatch, MessageBatchResult

    from constitutional.models.anthropic_provider import AnthropicModel
    from constitutional.models.base import ChatCall


class AnthropicBatches:
    max_requests = 100_000
    max_bytes = 256 * 1024 * 1024

    def __init__(self, model: AnthropicModel):
        self.model = model
        self.client = model.client
        self.secrets = model.secrets

    def entry(self, custom_id: str, call: ChatCall) -> dict:
        return {"custom_id": custom_id, "params": self.model.build_request(call)}

    async def submit(self, entries: list[dict], progress: dict, save: Callable[[], None]) -> str:
        """Create the batch. The API takes no idempotency key or metadata, so the newest batch listed before creating
        is saved first: after a restart, the one batch of the same size listed above it is this one (`recover`)."""
        try:
            newest = await self.client.messages.batches.list(limit=1)
            progress["listed_after"] = newest.data[0].id if newest.data else None
            save()
            # the entries are plain dicts of build_request's params, not the SDK's Request TypedDict
            return (await self.client.messages.batches.create(requests=entries)).id  # type: ignore[arg-type]
        except anthropic.APIError as exc:
            raise from_sdk_exception("anthropic", exc, self.secrets) from None

    async def recover(self, progress: dict) -> str | None:
        if "listed_after" not in progress:
            return None
        try:
            return await self._made_since(progress["listed_after"], progress["requests"])
        except anthropic.APIError as exc:
            raise from_sdk_exception("anthropic", exc, self.secrets) from None

    async def _made_since(self, listed_after: str | None, size: int) -> str | None:
        """The id of the only batch of `size` requests created after `listed_after`, if there is exactly one."""
        matches: list[str] = []
        async for batch in self.client.messages.batches.list(limit=100):  # newest first
            if batch.id == listed_after or len(matches) > 1:
                break
            if _size(batch) == size:
                matches.append(batch.id)
        return matches[0] if len(matches) == 1 else None

    async def poll(self, batch_id: str) -> Polled:
        try:
            batch = await self.client.messages.batches.retrieve(batch_id)
        except anthropic.APIError as exc:
            raise from_sdk_exception("anthropic", exc, self.secrets) from None
        total = _size(batch)
        return Polled(batch.processing_status == "ended", batch.processing_status, total - batch.request_counts.processing, total)

    async def results(self, batch_id: str) -> dict[str, Completion | ModelError]:
        outcomes: dict[str, Completion | ModelError] = {}
        try:
            async for row in await self.client.messages.batches.results(batch_id):
                outcomes[row.custom_id] = self._outcome(row.result)
        except anthropic.APIError as exc:
            raise from_sdk_exception("anthropic", exc, self.secrets) from None
        return outcomes

    def _outcome(self, result: MessageBatchResult) -> Completion | ModelError:
        if result.type == "succeeded":
            return self.model.read_reply(result.message.model_dump())
        if result.type == "errored":
            error = result.error.error
            return ModelError(
                f"anthropic batch request failed: {error.type}: {error.message}",
                retryable=is_retryable(None, error.type, error.message),
            )
        return ModelError(f"anthropic batch request {result.type} before it ran", retryable=True)


def _size(batch: MessageBatch) -> int:
    """A message batch's requests: its counts (processing, succeeded, errored, ...) always add up to them."""
    return sum(batch.request_counts.model_dump().values())
