"""OpenAI's Batch API: the requests as a JSONL file (purpose "batch"), one batch per file, the replies
read from the output and error files. Each request is the body the openai provider builds (`build_request`),
and each reply is read by it (`read_reply`). Structured requests carry the strict json_schema response_format:
a batch cannot fall back to another structured mode as synchronous calls do."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final

import openai

from constitutional.calls.batch import Polled
from constitutional.models.base import Completion, ModelError
from constitutional.models.http_errors import from_sdk_exception, is_retryable

if TYPE_CHECKING:
    from collections.abc import Callable

    from constitutional.models.base import ChatCall
    from constitutional.models.openai_provider import OpenAIModel

ENDPOINT: Final = "/v1/chat/completions"
ENDED = ("completed", "failed", "expired", "cancelled")
BATCH_MODE = "json_schema"


class OpenAIBatches:
    max_requests = 50_000
    max_bytes = 200 * 1024 * 1024

    def __init__(self, model: OpenAIModel):
        self.model = model
        self.client = model.client
        self.secrets = model.secrets

    def entry(self, custom_id: str, call: ChatCall) -> dict:
        return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": self.model.build_request(call, BATCH_MODE)}

    async def submit(self, entries: list[dict], progress: dict, save: Callable[[], None]) -> str:
        """Upload the requests (the file id saved first), then create the batch from the file."""
        try:
            data = "".join(json.dumps(entry) + "\n" for entry in entries).encode()
            uploaded = await self.client.files.create(file=("requests.jsonl", data, "application/jsonl"), purpose="batch")
            progress["input_file"] = uploaded.id
            save()
            return await self._create(uploaded.id)
        except openai.APIError as exc:
            raise from_sdk_exception("openai", exc, self.secrets) from None

    async def recover(self, progress: dict) -> str | None:
        """The batch made from the saved upload, or one made from it now; None if the upload never finished."""
        if progress.get("input_file") is None:
            return None
        try:
            recent = await self.client.batches.list(limit=100)  # newest first
            made = next((b.id for b in recent.data if b.input_file_id == progress["input_file"]), None)
            return made if made is not None else await self._create(progress["input_file"])
        except openai.APIError as exc:
            raise from_sdk_exception("openai", exc, self.secrets) from None

    async def _create(self, input_file: str) -> str:
        return (await self.client.batches.create(input_file_id=input_file, endpoint=ENDPOINT, completion_window="24h")).id

    async def poll(self, batch_id: str) -> Polled:
        try:
            batch = await self.client.batches.retrieve(batch_id)
        except openai.APIError as exc:
            raise from_sdk_exception("openai", exc, self.secrets) from None
        counts = batch.request_counts
        return Polled(
            batch.status in ENDED,
            batch.status,
            (counts.completed + counts.failed) if counts else 0,
            counts.total if counts else 0,
        )

    async def results(self, batch_id: str) -> dict[str, Completion | ModelError]:
        outcomes: dict[str, Completion | ModelError] = {}
        try:
            batch = await self.client.batches.retrieve(batch_id)
            for file_id in (batch.output_file_id, batch.error_file_id):
                if file_id:
                    lines = (await self.client.files.content(file_id)).text.splitlines()
                    for line in filter(str.strip, lines):
                        row = json.loads(line)
                        outcomes[row["custom_id"]] = self._outcome(row)
        except openai.APIError as exc:
            raise from_sdk_exception("openai", exc, self.secrets) from None
        return outcomes

    def _outcome(self, row: dict) -> Completion | ModelError:
        response = row.get("response") or {}
        status = response.get("status_code")
        body = response.get("body") or {}
        if status == 200:
            try:
                return self.model.read_reply(body)
            except ModelError as exc:
                return exc
        error = body.get("error") or row.get("error") or {}
        message = str(error.get("message") or "no reply")
        code = error.get("code") or error.get("type")
        return ModelError(
            f"openai batch request failed ({status or error.get('code')}): {message}",
            retryable=is_retryable(status, code, message),
            status=status,
        )
