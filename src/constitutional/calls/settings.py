"""CallSettings: how every model call of a job is made, in one typed value built once from the flags and environment.

The run's model, the judge, the debaters and Ray's workers are all made from one (`calls.factory.Calls`). A role
that is set apart (the judge's `--judge-concurrency`, say) gets a copy with those fields changed (`but`); every
field it does not name is the run's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from constitutional.models.http_errors import DEFAULT_MAX_REPLY_BYTES


class CallSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_retries: Annotated[int, Field(ge=0, description="retries of a retryable failure (429, 5xx, timeouts) per call")] = 4
    retry_wait: Annotated[float, Field(ge=0, description="seconds before the first retry; doubled each retry, with jitter")] = 1.0
    reasks: Annotated[int, Field(ge=0, description="re-asks of a structured reply that does not validate")] = 1
    timeout: Annotated[float | None, Field(gt=0, description="seconds to wait for one reply (None: the SDK's)")] = None
    max_reply_bytes: Annotated[
        int, Field(gt=0, description="a reply body larger than this is an error, not retried (a server ignoring max_tokens)")
    ] = DEFAULT_MAX_REPLY_BYTES
    concurrency: Annotated[int | None, Field(ge=1, description="calls in flight at once (None: the provider's default)")] = None
    rpm: Annotated[float | None, Field(gt=0, description="requests per minute, shared by every role on one endpoint")] = None
    tpm: Annotated[float | None, Field(gt=0, description="tokens per minute, shared by every role on one endpoint")] = None
    cache: Annotated[bool, Field(description="read and write the reply cache")] = True
    cache_dir: Annotated[
        Path | None, Field(description="the reply cache's folder (None: CONSTITUTIONAL_CACHE_DIR or the user's)")
    ] = None
    base_url: Annotated[
        str | None, Field(description="the server of an openai/ or anthropic/ model (None: the environment's)")
    ] = None
    prices: Annotated[Path | None, Field(description="a prices.yaml over the built-in table (None: the user's, if any)")] = None

    def but(self, **changes: object) -> CallSettings:
        """These settings with the fields given changed; a change of None leaves its field as it is."""
        given = {name: value for name, value in changes.items() if value is not None}
        return self.model_validate({**self.model_dump(), **given})

    def share(self, parts: int) -> CallSettings:
        """One of `parts` equal shares of the rate limits (a Ray worker's)."""
        return self.model_copy(
            update={"rpm": self.rpm / parts if self.rpm else None, "tpm": self.tpm / parts if self.tpm else None}
        )
