"""The Content-Security-Policy of the self-contained pages: only their own inline script and style may run."""

from __future__ import annotations

import base64
import hashlib


def source_hash(text: str) -> str:
    """A CSP source allowing an inline <script> or <style> whose content is exactly `text`."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def csp_meta(script: str | None, style: str) -> str:
    """The meta tag that allows only this script (None: no script at all) and this style block; the JSON data block
    is never run, and nothing is fetched."""
    scripts = "'none'" if script is None else source_hash(script)
    policy = (
        f"default-src 'none'; script-src {scripts}; style-src {source_hash(style)}; "
        "img-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'"
    )
    return f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
