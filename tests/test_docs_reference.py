"""The docs' generated reference (docs/reference/cli.md, files.md, the environment table) is what the code makes now."""

from scripts.gen_docs_reference import BEGIN, COMMAND, END, cli_reference, files_reference, md, wanted_pages, with_generated

from tests.helpers import ROOT


def test_the_generated_reference_is_up_to_date():
    stale = [str(path.relative_to(ROOT)) for path, text in wanted_pages().items() if path.read_text("utf-8") != text]
    assert stale == [], f"out of date: {', '.join(stale)}. Regenerate with: {COMMAND}"


def test_the_cli_reference_has_every_command_and_option():
    text = cli_reference()
    for command in ["cai run", "cai eval", "cai constitution validate", "cai report diff", "cai schema", "cai redteam"]:
        assert f"## `{command}`\n" in text
    assert "`--principles" in text and "sample:K" in text and "`--version`" in text


def test_the_files_reference_names_the_eval_lines_fields():
    text = files_reference()
    for field in ["`verdict`", "`leaning`", "`needs_review`", "`principles[].evidence[].quote`", "`signals.refusal`"]:
        assert field in text


def test_a_stale_page_is_rewritten_between_the_markers():
    page = f"intro\n{BEGIN}old\n{END}after\n"
    assert with_generated(page, "new\n") == f"intro\n{BEGIN}new\n{END}after\n"


def test_help_text_is_escaped_for_markdown_outside_code():
    assert md("runs/<date>, a*b, `x<y*z`") == "runs/&lt;date>, a\\*b, `x<y*z`"
