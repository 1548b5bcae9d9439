"""The discrepancy register: every contradiction, ambiguity and defect found in the vendor documents."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Literal

from tokenmock.contracts.errors import SpecProblem
from tokenmock.contracts.loader import read_yaml, vendors

Reading = Literal["strict", "lenient"]


@dataclass(frozen=True)
class Discrepancy:
    """One register entry; `mock` is the mock's default reading, or "none" when nothing is switchable."""

    id: str
    vendor: str
    title: str
    where: str
    problem: str
    strict: str
    lenient: str
    spec: Reading
    mock: Literal["strict", "lenient", "none"]

    @property
    def switchable(self) -> bool:
        """Whether the mock has a strict/lenient switch for this entry."""
        return self.mock != "none"


@functools.cache
def register(vendor: str | None = None) -> tuple[Discrepancy, ...]:
    """The register entries of one vendor, or of all vendors."""
    names = [vendor] if vendor else list(vendors())
    folder = resources.files("tokenmock.openapi").joinpath("discrepancies")
    entries: list[Discrepancy] = []
    for name in names:
        if not folder.joinpath(f"{name}.yaml").is_file():
            continue
        for raw in read_yaml(f"discrepancies/{name}.yaml") or []:
            try:
                entry = Discrepancy(vendor=name, **raw)
            except TypeError as exc:
                raise SpecProblem(f"discrepancies/{name}.yaml: entry {raw.get('id')!r}: {exc}") from None
            if entry.spec not in ("strict", "lenient") or entry.mock not in ("strict", "lenient", "none"):
                raise SpecProblem(f"discrepancies/{name}.yaml: {entry.id}: spec/mock reading is not valid")
            entries.append(entry)
    return tuple(entries)


def render_markdown() -> str:
    """The register as Markdown (what openapi/DISCREPANCIES.md holds)."""
    lines = [
        "# Discrepancy register",
        "",
        "Every contradiction, ambiguity and defect found in the five vendor documents (`../shared/seeds/`).",
        "Generated from `openapi/discrepancies/*.yaml` by `tokenmock specs --register`; edit those files.",
        "`spec` is the reading the contract encodes; `mock` is the mock's default (switch it with",
        "`readings:` in the mock's config); `none` means there is no behaviour to switch.",
        "",
    ]
    for vendor in vendors():
        entries = register(vendor)
        if not entries:
            continue
        lines += [f"## {vendor}", ""]
        for e in entries:
            lines += [
                f"### {e.id}: {e.title}",
                "",
                f"- **Where:** {e.where}",
                f"- **Problem:** {e.problem}",
                f"- **Strict reading:** {e.strict}",
                f"- **Lenient reading:** {e.lenient}",
                f"- **Spec encodes:** {e.spec}; **mock default:** {e.mock}",
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"
