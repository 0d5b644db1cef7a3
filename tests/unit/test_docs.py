"""The documentation's examples are valid: every block marked ``<!-- docs-check: KIND -->`` in ``docs/`` parses as
what it claims to be (a config fragment, a RolloutSpec, a feedback body), and every page is in the site's nav.

The site itself is built with ``mkdocs build --strict`` by ``make test``; the walkthroughs run as integration tests
(``test_docs_walkthrough.py``, ``test_cluster_cli.py``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from driftline.core.config import REPO_ROOT
from driftline.core.config_loader import load_config
from driftline.rollout.spec import RolloutSpec
from driftline.serve_apps.feedback import parse_feedback

DOCS = REPO_ROOT / "docs"
CHECKED = re.compile(r"<!-- docs-check: ([\w-]+) -->\s*```(\w+)\n(.*?)```", re.S)


def _checked_blocks() -> list[tuple[str, str, str]]:
    blocks = []
    for page in sorted(DOCS.rglob("*.md")):
        for kind, _, body in CHECKED.findall(page.read_text()):
            blocks.append((f"{page.relative_to(DOCS)}:{kind}", kind, body))
    return blocks


BLOCKS = _checked_blocks()


def test_the_docs_have_checked_blocks_of_every_kind() -> None:
    assert {kind for _, kind, _ in BLOCKS} == {"config", "rollout-specs", "feedback-bodies"}


@pytest.mark.parametrize(("where", "kind", "body"), BLOCKS, ids=[b[0] for b in BLOCKS])
def test_a_checked_block_is_valid(where: str, kind: str, body: str, tmp_path: Path) -> None:
    if kind == "config":
        path = tmp_path / "fragment.yaml"
        path.write_text(body)
        load_config(path, workdir=tmp_path)  # a config error names the field and fails here
    elif kind == "rollout-specs":
        RolloutSpec.model_validate(json.loads(body))
    elif kind == "feedback-bodies":  # the router's own parser, with the classes of the docs' examples
        (item,), single = parse_feedback(json.loads(body), classes=("no", "yes"), by_id=True)
        assert single and item["label"] == "yes", item
    else:
        pytest.fail(f"{where}: unknown docs-check kind {kind!r}")


def test_every_page_is_in_the_nav() -> None:
    nav = yaml.safe_load((REPO_ROOT / "mkdocs.yml").read_text())["nav"]

    def pages(node: object) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, dict):
            return [p for v in node.values() for p in pages(v)]
        if isinstance(node, list):
            return [p for v in node for p in pages(v)]
        return []

    listed = set(pages(nav))
    on_disk = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert on_disk == listed, (sorted(on_disk - listed), sorted(listed - on_disk))
