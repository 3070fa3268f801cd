"""The layouts of the files cai writes, in the README or the docs, name exactly the fields of the models that write and
read them."""

from __future__ import annotations

import re
import typing

import pytest
from pydantic import BaseModel

from constitutional.evals.labels import Label
from constitutional.evals.lines import EvalLine
from constitutional.evals.report_model import Report, Usage
from constitutional.record import Record
from tests.helpers import doc_between

# Fields typed as a plain dict whose layout is a model's: records.jsonl's usage is `Usage.to_dict()`.
DICT_LAYOUTS = {(Record, "usage"): Usage}


def _models_in(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found = []
    for arg in typing.get_args(annotation):
        found += _models_in(arg)
    return found


def field_names(model: type[BaseModel]) -> set[str]:
    """Every field name of the model and of the models its fields hold (in lists, dicts, unions)."""
    names, todo, seen = set(), [model], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for name, info in current.model_fields.items():
            names.add(name)
            todo += _models_in(info.annotation)
            if (current, name) in DICT_LAYOUTS:
                todo.append(DICT_LAYOUTS[(current, name)])
    return names


def layout_names(text: str) -> set[str]:
    """The field names a layout mentions: lower-case identifiers, leaving out enumerated values
    (`source: critique|rule|judge`, `kind: "rule"`) and `null`; upper-case words (ID, VERDICT, N) are placeholders."""
    text = re.sub(r':\s*"[a-z_]+"', "", text)
    text = re.sub(r":\s*[a-z_]+(?:\|[a-z_]+)+", "", text)
    return set(re.findall(r"\b[a-z][a-z0-9_]*\b", text)) - {"null"}


LAYOUTS = {
    "record": (Record, lambda: doc_between("A record: `", "`.")),
    "eval-line": (EvalLine, lambda: doc_between("`eval.jsonl`, one line per record (input order):\n\n```\n", "```")),
    "report": (Report, lambda: doc_between("`report.json`, one per eval (`schema_version` 1):\n\n```\n", "```")),
    "labels": (Label, lambda: doc_between("A line of `labels.jsonl`: `", "`")),
}


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_readme_layout_names_exactly_the_models_fields(name):
    model, layout = LAYOUTS[name]
    in_readme, in_model = layout_names(layout()), field_names(model)
    assert in_model - in_readme == set(), f"fields of {model.__name__} the README's {name} layout does not name"
    assert in_readme - in_model == set(), f"names in the README's {name} layout that {model.__name__} has no field for"


def test_layout_names_leave_out_values_and_placeholders():
    assert layout_names('evidence[{source: critique|rule|judge, quote}], checks[{kind: "rule", x}], n{ID: N} | null') == {
        "evidence",
        "source",
        "quote",
        "checks",
        "kind",
        "x",
        "n",
    }


def test_the_helpers_see_nested_models():
    assert {"violations", "quote_found", "cost_usd"} <= field_names(Record)
