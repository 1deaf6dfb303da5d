"""Manifests and the catalog of a target, on a directory: no database, no S3."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import time

import pytest

from expense_wise.backup import manifest as mf
from expense_wise.backup.catalog import (
    check_digest,
    find_backup,
    load_manifests,
    save_manifest,
)
from expense_wise.backup.postgres import BackupError
from expense_wise.backup.report import Reporter
from expense_wise.backup.targets import DirectoryTarget

UTC = dt.UTC


def make_manifest(
    backup_id: str,
    created_at: dt.datetime,
    *,
    kind: str = "scheduled",
    archive_size: int = 100,
    receipts: mf.Receipts | None = None,
    verification: mf.Verification | None = None,
) -> mf.Manifest:
    return mf.Manifest(
        id=backup_id,
        created_at=created_at,
        database="expense_wise",
        server_version="15.4",
        revision="0005",
        archive=mf.FileDigest(backup_id + mf.ARCHIVE_SUFFIX, archive_size, "ab" * 32),
        tables={"users": 2, "expenses": 10},
        receipts=receipts,
        seconds=1.5,
        kind=kind,
        verification=verification,
    )


def at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, 26, hour, minute, tzinfo=UTC)


def test_suffixes_and_format():
    assert (mf.MANIFEST_SUFFIX, mf.ARCHIVE_SUFFIX, mf.RECEIPTS_SUFFIX) == (
        ".json",
        ".dump",
        ".receipts.tar",
    )
    assert make_manifest("a", at(1)).format == mf.MANIFEST_FORMAT == 1


def test_size_adds_the_receipts_archive():
    assert make_manifest("a", at(1), archive_size=100).size == 100
    pinned = mf.Receipts(storage="s3", count=3, bucket="b")
    assert make_manifest("a", at(1), archive_size=100, receipts=pinned).size == 100
    local = mf.Receipts(storage="local", count=3, archive=mf.FileDigest("r.tar", 25, "cd" * 32))
    assert make_manifest("a", at(1), archive_size=100, receipts=local).size == 125


def test_verified_only_with_a_passed_verification():
    assert not make_manifest("a", at(1)).verified
    failed = mf.Verification(verified_at=at(2), ok=False, seconds=3.0, problems=["bad"])
    assert not make_manifest("a", at(1), verification=failed).verified
    passed = mf.Verification(verified_at=at(2), ok=True, seconds=3.0)
    assert make_manifest("a", at(1), verification=passed).verified


def test_backup_ids_sort_by_time_and_differ_within_a_second(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Tokyo")  # ids are in UTC, whatever the host's zone
    time.tzset()
    now = dt.datetime(2026, 11, 26, 8, 6, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    backup_id = mf.new_backup_id(now)
    assert re.fullmatch(r"20261126T070600Z-[0-9a-f]{6}", backup_id)
    assert mf.new_backup_id(now) != backup_id
    monkeypatch.delenv("TZ")
    time.tzset()


def test_encode_is_indented_json_that_decodes_back():
    receipts = mf.Receipts(
        storage="s3",
        count=2,
        bucket="receipts",
        objects=[mf.ReceiptObject("k1", "v1"), mf.ReceiptObject("k2", None)],
    )
    manifest = make_manifest("20261126T010000Z-aaaaaa", at(1), receipts=receipts)
    data = mf.encode(manifest)
    assert data.startswith(b'{\n  "id": "20261126T010000Z-aaaaaa",\n')
    assert data.endswith(b"}\n")
    assert mf.decode(data) == manifest


@pytest.mark.parametrize("name", ["", ".", "..", "../victim", "/etc/passwd", "a\\b", "a\0b"])
def test_plain_name_refuses_paths(name):
    with pytest.raises(mf.UnsafeName, match=re.escape(f"{name!r} is not a plain file name")):
        mf.plain_name(name)


@pytest.mark.parametrize("name", ["backup.dump", "...", "a..b", ".hidden", "XX.json"])
def test_plain_name_accepts_file_names(name):
    assert mf.plain_name(name) == name


def test_check_names():
    good = make_manifest("b1", at(1))
    mf.check_names(good, "b1.json")
    with pytest.raises(mf.UnsafeName, match=r"^id 'b1' does not match the file name 'b2.json'$"):
        mf.check_names(good, "b2.json")
    bad_id = make_manifest("../b1", at(1))
    with pytest.raises(mf.UnsafeName, match=r"^id '\.\./b1' is not a plain file name$"):
        mf.check_names(bad_id, "../b1.json")
    bad_archive = mf.Manifest(
        **{
            **{f: getattr(good, f) for f in good.__struct_fields__},
            "archive": mf.FileDigest("/etc/passwd", 1, "00"),
        }
    )
    with pytest.raises(mf.UnsafeName, match=r"^archive\.name '/etc/passwd' is not a plain"):
        mf.check_names(bad_archive, "b1.json")
    receipts = mf.Receipts(storage="local", count=1, archive=mf.FileDigest("../r.tar", 1, "00"))
    bad_receipts = make_manifest("b1", at(1), receipts=receipts)
    with pytest.raises(mf.UnsafeName, match=r"^receipts\.archive\.name '\.\./r\.tar' is not"):
        mf.check_names(bad_receipts, "b1.json")
    mf.check_names(make_manifest("b1", at(1), receipts=mf.Receipts("s3", 0)), "b1.json")


# --- The catalog -----------------------------------------------------------------------------


@pytest.fixture
def target(tmp_path):
    return DirectoryTarget(tmp_path / "backups")


def test_load_manifests_newest_first_skipping_what_is_not_ours(target):
    older = make_manifest("b-older", at(1))
    newer = make_manifest("b-newer", at(2))
    same_time_a = make_manifest("b-same-a", at(3))
    same_time_b = make_manifest("b-same-b", at(3))
    for manifest in (older, same_time_a, newer, same_time_b):
        save_manifest(target, manifest)
    target.write_bytes("a-notes.json", b'{"hello": "world"}')  # valid JSON, not a manifest
    target.write_bytes("a-broken.json", b"{not json")  # listed first: skipped, not the end
    target.write_bytes("b-older.dump", b"archive bytes")
    assert load_manifests(target) == [same_time_b, same_time_a, newer, older]
    assert target.read_bytes("b-older.json") == mf.encode(older)
    assert load_manifests(DirectoryTarget(target.root / "missing")) == []


def test_a_manifest_reaching_outside_the_target_stops_the_listing(target):
    evil = make_manifest("b1", at(1))
    target.write_bytes("b2.json", mf.encode(evil))  # stored under another name than its id
    with pytest.raises(BackupError) as raised:
        load_manifests(target)
    assert str(raised.value) == (
        f"refusing manifest b2.json in {target.description}: id 'b1' does not match the "
        "file name 'b2.json'; move it away"
    )


def test_find_backup_by_id_or_latest(target):
    first = make_manifest("b1", at(1))
    second = make_manifest("b2", at(2))
    safety = make_manifest("b3", at(3), kind="safety")
    for manifest in (first, second, safety):
        save_manifest(target, manifest)
    assert find_backup(target, "b1", latest=False) == first
    assert find_backup(target, "b1.json", latest=False) == first
    assert find_backup(target, "b1.dump", latest=False) == first
    assert find_backup(target, "b3", latest=False) == safety  # a safety backup, by id
    assert find_backup(target, None, latest=True) == second  # safety backups are not "latest"
    assert find_backup(target, "latest", latest=False) == second
    with pytest.raises(BackupError, match=r"^no backup b9 in "):
        find_backup(target, "b9", latest=False)
    for backup_id, latest in ((None, False), ("b1", True), ("", False)):
        with pytest.raises(BackupError) as raised:
            find_backup(target, backup_id, latest=latest)
        assert str(raised.value) == "name a backup ID or pass --latest (not both)"


def test_latest_falls_back_to_a_safety_backup_and_fails_on_an_empty_target(target):
    with pytest.raises(BackupError) as raised:
        find_backup(target, None, latest=True)
    assert str(raised.value) == f"no backups in {target.description}"
    safety = make_manifest("b1", at(1), kind="safety")
    save_manifest(target, safety)
    assert find_backup(target, None, latest=True) == safety


def test_check_digest(tmp_path):
    data = b"backup archive bytes"
    path = tmp_path / "b1.dump"
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    out = io.StringIO()
    reporter = Reporter("verify", interactive=True, out=out)
    check_digest(str(path), mf.FileDigest("b1.dump", len(data), digest), reporter)
    assert out.getvalue().endswith("\n")  # the progress line was drawn and finished
    for wrong in (
        mf.FileDigest("b1.dump", len(data) + 1, digest),
        mf.FileDigest("b1.dump", len(data), "0" * 64),
    ):
        with pytest.raises(BackupError) as raised:
            check_digest(str(path), wrong, reporter)
        assert str(raised.value) == (
            f"b1.dump is corrupt: {len(data)} bytes with sha256 {digest}, the manifest says "
            f"{wrong.size} bytes with sha256 {wrong.sha256}"
        )
