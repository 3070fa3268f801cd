from constitutional.constitution import Constitution, load_constitution
from constitutional.constitution.diff import diff_constitutions


def constitution(*principles):
    items = [
        {"id": pid, "name": pid.upper(), "critique_request": f"Quote {pid}.", "revision_request": f"Remove {pid}.", **extra}
        for pid, extra in principles
    ]
    return Constitution.model_validate({"name": "t", "principles": items})


def test_identical_constitutions_have_no_differences():
    default = load_constitution("default").constitution
    assert diff_constitutions(default, default) == {"added": [], "removed": [], "edited": []}


def test_added_removed_and_edited_fields():
    a = constitution(("keep", {}), ("gone", {}), ("edit", {"weight": 1}))
    b = constitution(("keep", {}), ("edit", {"weight": 3, "revision_request": "Rewrite edit."}), ("new", {}))
    diff = diff_constitutions(a, b)
    assert diff["added"] == ["new"] and diff["removed"] == ["gone"]
    assert diff["edited"] == [
        {
            "id": "edit",
            "changes": {
                "revision_request": {"before": "Remove edit.", "after": "Rewrite edit."},
                "weight": {"before": 1.0, "after": 3.0},
            },
        }
    ]


def test_rules_changes_count_as_edits():
    a = constitution(("p", {}))
    b = constitution(("p", {"rules": [{"max_chars": 100}]}))
    (edit,) = diff_constitutions(a, b)["edited"]
    assert list(edit["changes"]) == ["rules"] and edit["changes"]["rules"]["before"] == []
