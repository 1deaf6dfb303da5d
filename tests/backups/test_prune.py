"""Retention policy on synthetic backup lists: exactly what the policy says stays."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from expense_wise.backup import manifest as mf
from expense_wise.backup import prune
from expense_wise.backup.targets import DirectoryTarget


def backup(when: str, verified: bool = False) -> mf.Manifest:
    created = dt.datetime.fromisoformat(when).replace(tzinfo=dt.UTC)
    backup_id = mf.new_backup_id(created)
    return mf.Manifest(
        id=backup_id,
        created_at=created,
        database="app",
        server_version="15",
        revision="0001",
        archive=mf.FileDigest(name=backup_id + mf.ARCHIVE_SUFFIX, size=1, sha256="0" * 64),
        tables={},
        receipts=None,
        seconds=1.0,
        verification=mf.Verification(verified_at=created, ok=True, seconds=1.0)
        if verified
        else None,
    )


def kept(decisions: list[prune.Decision]) -> list[str]:
    return [f"{d.manifest.created_at:%Y-%m-%d %H:%M}" for d in decisions if d.keep]


def nightly(start: dt.date, days: int) -> list[mf.Manifest]:
    return [backup(f"{start + dt.timedelta(days=n)}T02:00:00") for n in range(days)]


def test_keeps_newest_per_day_week_and_month() -> None:
    backups = [*nightly(dt.date(2026, 9, 28), 60), backup("2026-11-26T14:00:00")]
    decisions = prune.plan(backups, prune.Policy(daily=3, weekly=2, monthly=2))
    assert kept(decisions) == [
        "2026-11-26 14:00",  # daily, weekly (ISO week 48), monthly (November)
        "2026-11-25 02:00",  # daily
        "2026-11-24 02:00",  # daily
        "2026-11-22 02:00",  # weekly: Sunday, the newest of ISO week 47
        "2026-10-31 02:00",  # monthly: October
    ]
    first = next(d for d in decisions if d.keep)
    assert first.reasons == ["daily", "weekly", "monthly"]
    # The 02:00 backup of 26 November is not the newest of its day.
    assert "2026-11-26 02:00" not in kept(decisions)


def test_missed_days_do_not_shrink_the_daily_window() -> None:
    backups = [backup(f"2026-11-{day:02d}T02:00:00") for day in (26, 25, 22, 21, 20)]
    decisions = prune.plan(backups, prune.Policy(daily=4, weekly=0, monthly=0))
    assert kept(decisions) == [
        "2026-11-26 02:00",
        "2026-11-25 02:00",
        "2026-11-22 02:00",
        "2026-11-21 02:00",
    ]


def test_the_newest_verified_backup_is_never_deleted() -> None:
    backups = [*nightly(dt.date(2026, 11, 1), 26)]
    backups[3] = backup("2026-11-04T02:00:00", verified=True)
    backups[1] = backup("2026-11-02T02:00:00", verified=True)
    decisions = prune.plan(backups, prune.Policy(daily=2, weekly=0, monthly=0))
    assert kept(decisions) == ["2026-11-26 02:00", "2026-11-25 02:00", "2026-11-04 02:00"]
    assert next(d for d in decisions if "newest verified" in d.reasons).manifest == backups[3]


def test_default_policy_over_two_years_of_nightly_backups() -> None:
    backups = nightly(dt.date(2024, 11, 27), 730)  # up to 2026-11-26
    decisions = prune.plan(backups, prune.Policy())
    days = {d.manifest.created_at.date() for d in decisions if d.keep}
    # 7 days, the newest of 4 ISO weeks, 12 months: overlaps counted once.
    assert len([d for d in decisions if "daily" in d.reasons]) == 7
    assert len([d for d in decisions if "weekly" in d.reasons]) == 4
    assert len([d for d in decisions if "monthly" in d.reasons]) == 12
    daily = {dt.date(2026, 11, day) for day in range(20, 27)}
    weekly = {dt.date(2026, 11, 15), dt.date(2026, 11, 8)}  # ISO weeks 46 and 45 (47, 48: daily)
    month_ends = {
        dt.date(2025, 12, 31), dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 3, 31),
        dt.date(2026, 4, 30), dt.date(2026, 5, 31), dt.date(2026, 6, 30), dt.date(2026, 7, 31),
        dt.date(2026, 8, 31), dt.date(2026, 9, 30), dt.date(2026, 10, 31),
    }  # fmt: skip
    assert days == daily | weekly | month_ends


def test_apply_deletes_manifest_first_and_old_orphans_only(tmp_path: Path) -> None:
    target = DirectoryTarget(tmp_path)
    old, new = backup("2026-11-01T02:00:00"), backup("2026-11-26T02:00:00")
    for item in (old, new):
        target.write_bytes(item.id + mf.MANIFEST_SUFFIX, mf.encode(item))
        target.write_bytes(item.archive.name, b"archive")
    stale_orphan = "20261120T020000Z-abcdef.dump"
    fresh_orphan = "20261126T080000Z-abcdef.dump"
    target.write_bytes(stale_orphan, b"unfinished")
    target.write_bytes(fresh_orphan, b"still being written?")
    decisions = prune.plan([old, new], prune.Policy(daily=1, weekly=0, monthly=0))
    assert prune.backup_files(old)[0].endswith(mf.MANIFEST_SUFFIX)
    now = dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC)
    orphans = prune.orphans(target, [old, new], now)
    assert orphans == [stale_orphan]
    prune.apply(target, decisions, orphans)
    assert target.names() == sorted([new.id + mf.MANIFEST_SUFFIX, new.archive.name, fresh_orphan])
