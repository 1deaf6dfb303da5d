"""The Dockerfile's base image is pinned by digest.

checkov's CKV_DOCKER_7 reads `FROM ${BASE_IMAGE}` without expanding the ARG, so the pin it
cannot see is checked here: the default of BASE_IMAGE names a tag and a sha256 digest, and
every stage starts from it or from an earlier stage.
"""

from __future__ import annotations

import re

from infra_helpers import REPO

PINNED = re.compile(r"^[\w.-]+(?:/[\w.-]+)*:(?P<tag>[\w.-]+)@sha256:[0-9a-f]{64}$")


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def _global_arg_defaults() -> dict[str, str]:
    defaults: dict[str, str] = {}
    for instruction, arguments in _instructions():
        if instruction == "FROM":
            break
        if instruction == "ARG" and "=" in arguments:
            name, value = arguments.split("=", 1)
            defaults[name] = value
    return defaults


def test_the_default_base_image_is_pinned_by_digest() -> None:
    base = _global_arg_defaults().get("BASE_IMAGE", "")
    match = PINNED.match(base)
    assert match, f"BASE_IMAGE={base!r} is not <name>:<tag>@sha256:<digest>"
    assert match["tag"] != "latest"


def test_every_stage_starts_from_the_pinned_base_or_an_earlier_stage() -> None:
    stages: list[str] = []
    for instruction, arguments in _instructions():
        if instruction != "FROM":
            continue
        words = arguments.split()
        image = words[0]
        assert image == "${BASE_IMAGE}" or image in stages, f"FROM {arguments}"
        if len(words) == 3 and words[1].upper() == "AS":
            stages.append(words[2])
