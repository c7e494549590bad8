"""The SQLite object store: persistence, resourceVersion counter, indexes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kaptain.cluster.apiserver.store import Key, Store, StoreError


def _obj(name: str, uid: str, ns: str = "default") -> dict[str, object]:
    return {"kind": "ConfigMap", "metadata": {"name": name, "namespace": ns, "uid": uid}, "data": {"k": name}}


def test_put_get_and_resource_versions(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    assert store.resource_version == 0
    a = store.put(Key("", "configmaps", "default", "a"), _obj("a", "u1"))
    b = store.put(Key("", "configmaps", "default", "b"), _obj("b", "u2"))
    assert (a.rv, b.rv) == (1, 2)
    assert a.obj["metadata"]["resourceVersion"] == "1"
    got = store.get(Key("", "configmaps", "default", "a"))
    assert got is not None and got.obj["data"] == {"k": "a"} and '"resourceVersion":"1"' in got.text
    assert store.by_uid("u2") is b
    assert store.get(Key("", "configmaps", "other", "a")) is None
    store.close()


def test_items_are_ordered_and_filtered_by_namespace(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    for ns, name in [("b", "y"), ("a", "z"), ("a", "x"), ("b", "w")]:
        store.put(Key("", "configmaps", ns, name), _obj(name, f"{ns}-{name}", ns))
    assert [(e.key.namespace, e.key.name) for e in store.items("", "configmaps")] == [
        ("a", "x"),
        ("a", "z"),
        ("b", "w"),
        ("b", "y"),
    ]
    assert [e.key.name for e in store.items("", "configmaps", "b")] == ["w", "y"]
    assert sorted(e.key.name for e in store.in_namespace("a")) == ["x", "z"]
    assert store.resources() == [("", "configmaps")]
    store.close()


def test_remove_allocates_a_version_and_unindexes(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    key = Key("", "configmaps", "default", "a")
    store.put(key, _obj("a", "u1"))
    final = store.remove(key, _obj("a", "u1"))
    assert final.rv == 2 and final.obj["metadata"]["resourceVersion"] == "2"
    assert store.get(key) is None and store.by_uid("u1") is None
    assert store.resources() == []
    store.close()


def test_replacing_keeps_uid_index_consistent(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    key = Key("", "configmaps", "default", "a")
    store.put(key, _obj("a", "u1"))
    second = store.put(key, _obj("a", "u1"))
    assert store.by_uid("u1") is second
    store.close()


def test_state_and_counter_survive_reopen(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    for i in range(5):
        store.put(Key("", "configmaps", "default", f"c{i}"), _obj(f"c{i}", f"u{i}"))
    # Removing the newest objects must not let the counter go back after a restart.
    store.remove(Key("", "configmaps", "default", "c4"), _obj("c4", "u4"))
    store.remove(Key("", "configmaps", "default", "c3"), _obj("c3", "u3"))
    assert store.resource_version == 7
    store.close()

    reopened = Store(tmp_path / "db")
    assert reopened.resource_version == 7
    assert [e.key.name for e in reopened.items("", "configmaps")] == ["c0", "c1", "c2"]
    assert reopened.by_uid("u1") is not None
    nxt = reopened.put(Key("", "configmaps", "default", "new"), _obj("new", "u9"))
    assert nxt.rv == 8
    reopened.close()


def test_database_uses_wal(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    store.put(Key("", "configmaps", "default", "a"), _obj("a", "u1"))
    store.close()
    with sqlite3.connect(tmp_path / "db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unopenable_path_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        Store(tmp_path / "missing-dir" / "db")
