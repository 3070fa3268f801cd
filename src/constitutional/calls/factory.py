"""The one factory of model calls: every model of a job (the run's, the judge, the debaters, a Ray worker's) is made
here from its CallSettings, and the scorer's cache comes from here too.

Rate limits belong to an endpoint, not to a model object: two roles on one endpoint (provider, base URL and model
name), say the run's model and a judge of the same spec, draw on one budget, set by the first role made for it.
One reply cache per folder serves every role; the factory closes it (`close`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from constitutional.calls.cache import ReplyCache, default_cache_dir
from constitutional.calls.limits import RateLimiter
from constitutional.calls.managed import ManagedModel
from constitutional.calls.pricing import load_prices, price_for
from constitutional.calls.retry import RetryPolicy
from constitutional.calls.settings import CallSettings
from constitutional.models.registry import create_model, find_provider
from constitutional.settings import read_settings

if TYPE_CHECKING:
    from pathlib import Path

    from constitutional.models.base import ChatModel

PROVIDER_OPTIONS = ("base_url", "timeout")  # CallSettings fields that a provider takes when it makes its client
LIMIT_OPTIONS = ("max_reply_bytes",)  # fields with a default that a provider takes if it can (an HTTP API's), never refused


def call_settings(**flags: object) -> CallSettings:
    """The CallSettings of these flags (None: not given), the environment's for the rest, resolved now so that a Ray
    worker gets the driver's: the first retry wait, the cache folder and the price file."""
    given = {name: value for name, value in flags.items() if value is not None}
    environment = read_settings()
    given.setdefault("retry_wait", environment.retry_wait)
    given.setdefault("prices", environment.prices_file)
    given["cache_dir"] = given.get("cache_dir") or default_cache_dir()
    return CallSettings.model_validate(given)


class Calls:
    """Makes every model of one job from `settings` (or a role's copy of them, `CallSettings.but`)."""

    def __init__(self, settings: CallSettings):
        self.settings = settings
        self.limiters: dict[str, RateLimiter] = {}
        self.caches: dict[Path, ReplyCache] = {}

    def model(self, spec: str, settings: CallSettings | None = None, *, strict: bool = True) -> ManagedModel:
        """The provider of `spec`, managed as `settings` say. `strict`: a provider option it does not take (a
        --timeout for `local`, say) is refused, as a flag given for this model should be; else it is left out, as
        for a judge that inherits the run's settings."""
        settings = settings or self.settings
        options = {name: getattr(settings, name) for name in PROVIDER_OPTIONS if getattr(settings, name) is not None}
        taken = find_provider(spec).options
        if not strict:
            options = {name: value for name, value in options.items() if name in taken}
        options.update({name: getattr(settings, name) for name in LIMIT_OPTIONS if name in taken})
        inner = create_model(spec, **options)
        return self.wrap(inner, settings)

    def wrap(self, inner: ChatModel, settings: CallSettings | None = None) -> ManagedModel:
        """`inner` (a provider, or a model object a caller made) with the cache, limits, retries and price."""
        settings = settings or self.settings
        endpoint = str(getattr(getattr(inner, "client", None), "base_url", "") or "") or None
        return ManagedModel(
            inner=inner,
            cache=self.reply_cache(settings),
            limiter=self.limiter(f"{inner.spec}@{endpoint}", settings),
            retry=RetryPolicy(max_retries=settings.max_retries, initial_wait=settings.retry_wait, reasks=settings.reasks),
            price=price_for(inner.spec, load_prices(settings.prices)),
            endpoint=endpoint,
            concurrency=settings.concurrency,
            max_reply_bytes=settings.max_reply_bytes,
        )

    def limiter(self, endpoint: str, settings: CallSettings) -> RateLimiter:
        """The one limiter of `endpoint`, made with the limits of the first role that asks for it."""
        if endpoint not in self.limiters:
            self.limiters[endpoint] = RateLimiter(settings.rpm, settings.tpm)
        return self.limiters[endpoint]

    def reply_cache(self, settings: CallSettings | None = None) -> ReplyCache | None:
        """The reply cache of `settings` (None with cache off): one per folder, whichever role asks."""
        settings = settings or self.settings
        if not settings.cache:
            return None
        folder = settings.cache_dir or default_cache_dir()
        if folder not in self.caches:
            self.caches[folder] = ReplyCache(folder)
        return self.caches[folder]

    def close(self) -> None:
        for cache in self.caches.values():
            cache.close()
        self.caches.clear()
