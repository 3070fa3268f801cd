"""`cai run`'s call settings reach every model it makes: the judge gets the run's retries, rate limits and concurrency
(its own flags override them field by field), and two roles on one endpoint share one rate limit."""

import pytest
from typer.testing import CliRunner

from constitutional.calls import factory
from constitutional.cli.app import app
from tests.helpers import DATA, ROOT

QUICKSTART = ROOT / "examples" / "prompts" / "quickstart.jsonl"


class JudgeMade(Exception):
    """Raised once the eval's judge is made: its settings are the point, and judging at --rpm 30 takes minutes."""


@pytest.fixture
def made(monkeypatch):
    """Every model the factory makes during a command, as (spec, managed model), up to the judge."""
    seen = []
    real = factory.Calls.model

    def spy(self, spec, settings=None, *, strict=True):
        model = real(self, spec, settings, strict=strict)
        seen.append((spec, model))
        if not strict:  # the eval's judge (a role that inherits settings leaves out options its provider lacks)
            raise JudgeMade
        return model

    monkeypatch.setattr(factory.Calls, "model", spy)
    return seen


def run(tmp_path, *extra):
    spec = f"scripted:{DATA / 'scripted_basic.yaml'}"
    args = ["run", QUICKSTART, "-m", spec, "-o", tmp_path / "run", "--limit", "1", "--scorer", "none", "-q", "--no-cache"]
    result = CliRunner().invoke(app, [str(a) for a in [*args, *extra]])
    assert "wrote 1 records" in result.output, result.output  # the run's job ran; the spy stopped the eval at its judge
    return spec


def test_the_judge_gets_the_runs_retries_rate_limit_and_concurrency(tmp_path, made):
    spec = run(tmp_path, "--max-retries", "0", "--rpm", "30", "--concurrency", "4")
    (_, model), (judge_spec, judge) = made
    assert judge_spec == spec  # the judge defaults to the run's model
    for role in (model, judge):
        assert role.retry.max_retries == 0 and role.default_concurrency == 4
        assert role.limiter.requests is not None and role.limiter.requests.rate == pytest.approx(30 / 60)
    assert judge.limiter is model.limiter  # one endpoint, one budget


def test_judge_concurrency_overrides_that_field_alone(tmp_path, made):
    run(tmp_path, "--max-retries", "0", "--rpm", "30", "--concurrency", "4", "--judge-concurrency", "2")
    (_, model), (_, judge) = made
    assert model.default_concurrency == 4 and judge.default_concurrency == 2
    assert judge.retry.max_retries == 0 and judge.limiter is model.limiter


def test_a_judge_on_another_endpoint_has_its_own_limit_with_the_runs_settings(tmp_path, made):
    other = tmp_path / "judge.yaml"
    other.write_text((DATA / "scripted_basic.yaml").read_text())
    run(tmp_path, "--max-retries", "1", "--rpm", "30", "--judge", f"scripted:{other}")
    (_, model), (_, judge) = made
    assert judge.limiter is not model.limiter and judge.retry.max_retries == 1
    assert judge.limiter.requests is not None and judge.limiter.requests.rate == pytest.approx(30 / 60)


def test_cai_eval_takes_the_call_settings_too(tmp_path, made):
    spec = f"scripted:{DATA / 'scripted_basic.yaml'}"
    args = ["eval", ROOT / "examples" / "revisions.jsonl", "--judge", spec, "--scorer", "none", "-o", tmp_path / "e", "-q"]
    extra = ["--max-retries", "0", "--rpm", "12", "--judge-concurrency", "3", "--cache-dir", tmp_path / "cache"]
    CliRunner().invoke(app, [str(a) for a in [*args, *extra]])
    ((_, judge),) = made
    assert judge.retry.max_retries == 0 and judge.default_concurrency == 3
    assert judge.limiter.requests.rate == pytest.approx(12 / 60) and judge.cache.path.parent == tmp_path / "cache"
