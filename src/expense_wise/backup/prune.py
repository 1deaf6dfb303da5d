"""`backup prune`: grandfather-father-son retention.

Per period (day, ISO week, month, all in UTC) only the newest backup counts; the policy keeps
that backup for the newest N periods that have one. So `--keep-daily 7` keeps a week of daily
backups even if a night was missed, instead of silently covering six days. The newest
verified backup is always kept, whatever the policy says.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

from expense_wise.backup import manifest as mf
from expense_wise.backup.targets import Target

# Files of a backup without a manifest (an interrupted create) are removed once this old;
# younger ones may belong to a backup still being written.
ORPHAN_AGE = dt.timedelta(days=1)


@dataclass(frozen=True)
class Policy:
    daily: int = 7
    weekly: int = 4
    monthly: int = 12


@dataclass
class Decision:
    manifest: mf.Manifest
    reasons: list[str] = field(default_factory=list)

    @property
    def keep(self) -> bool:
        return bool(self.reasons)


def _keep_newest_per_period(
    decisions: Sequence[Decision], count: int, period: Callable[[dt.datetime], Hashable], why: str
) -> None:
    seen: set[Hashable] = set()
    for decision in decisions:  # newest first
        if len(seen) >= count:
            return
        key = period(decision.manifest.created_at.astimezone(dt.UTC))
        if key not in seen:
            seen.add(key)
            decision.reasons.append(why)


def plan(manifests: Sequence[mf.Manifest], policy: Policy) -> list[Decision]:
    decisions = [
        Decision(manifest)
        for manifest in sorted(manifests, key=lambda item: (item.created_at, item.id), reverse=True)
    ]
    _keep_newest_per_period(decisions, policy.daily, lambda t: t.date(), "daily")
    _keep_newest_per_period(decisions, policy.weekly, lambda t: t.isocalendar()[:2], "weekly")
    _keep_newest_per_period(decisions, policy.monthly, lambda t: (t.year, t.month), "monthly")
    for decision in decisions:
        if decision.manifest.verified:
            decision.reasons.append("newest verified")
            break
    return decisions


def backup_files(manifest: mf.Manifest) -> list[str]:
    """The objects of a backup, manifest first: deleting in this order never leaves a
    listed backup with missing parts."""
    names = [manifest.id + mf.MANIFEST_SUFFIX, manifest.archive.name]
    if manifest.receipts is not None and manifest.receipts.archive is not None:
        names.append(manifest.receipts.archive.name)
    return names


def _created_at(name: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(name[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def orphans(target: Target, manifests: Sequence[mf.Manifest], now: dt.datetime) -> list[str]:
    """Archives no manifest names (left by an interrupted create) older than ORPHAN_AGE."""
    owned = {name for manifest in manifests for name in backup_files(manifest)}
    found = []
    for name in target.names():
        if name in owned or name.endswith(mf.MANIFEST_SUFFIX):
            continue
        created = _created_at(name)
        if created is not None and now - created > ORPHAN_AGE:
            found.append(name)
    return found


def apply(target: Target, decisions: Sequence[Decision], extra: Sequence[str]) -> None:
    for decision in decisions:
        if not decision.keep:
            for name in backup_files(decision.manifest):
                target.delete(name)
    for name in extra:
        target.delete(name)
