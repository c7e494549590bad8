"""Persistence of API objects in SQLite, with the cluster-wide resourceVersion counter.

Every object lives in one row keyed by (group, plural, namespace, name) holding its JSON. The
whole data set is also kept in memory (parsed and serialised), because reads, lists, selectors
and the garbage collector's owner lookups must not touch the disk; SQLite is the durable copy.
This process is the only writer, so the in-memory copy never goes stale.

Each write is one small transaction (WAL, synchronous=NORMAL: a commit is an append to the
write-ahead log without fsync) that stores the object and the new counter value together, so the
counter is strictly increasing across restarts and never behind a stored object.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

Object = dict[str, Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    grp TEXT NOT NULL,
    plural TEXT NOT NULL,
    ns TEXT NOT NULL,
    name TEXT NOT NULL,
    rv INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (grp, plural, ns, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class Key(NamedTuple):
    """Where an object is stored: namespace is "" for cluster-scoped kinds."""

    group: str
    plural: str
    namespace: str
    name: str


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored object version. `obj` is shared and must never be mutated; `text` is its JSON."""

    key: Key
    obj: Object
    text: str
    rv: int

    @property
    def uid(self) -> str:
        """The object's `metadata.uid` ("" when it has none)."""
        return str(self.obj.get("metadata", {}).get("uid", ""))


class StoreError(Exception):
    """The database could not be read or written (disk full, corrupt file, ...)."""


def dumps(obj: Object) -> str:
    """Serialises an object compactly, as it is stored and sent."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class Store:
    """SQLite-backed object store with an in-memory index.

    Args:
        path: The SQLite database file (created if missing).

    Raises:
        StoreError: The database cannot be opened.
    """

    def __init__(self, path: Path) -> None:
        try:
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {path}: {exc}") from exc
        # (group, plural) -> namespace -> name -> entry
        self._objects: dict[tuple[str, str], dict[str, dict[str, Entry]]] = {}
        self._by_uid: dict[str, Entry] = {}
        self._rv = 0
        self._load()

    def _load(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'rv'").fetchone()
        rv = int(row[0]) if row else 0
        for grp, plural, ns, name, obj_rv, data in self._db.execute(
            "SELECT grp, plural, ns, name, rv, data FROM objects"
        ):
            entry = Entry(Key(grp, plural, ns, name), json.loads(data), data, int(obj_rv))
            self._index(entry)
            rv = max(rv, entry.rv)
        self._rv = rv

    @property
    def resource_version(self) -> int:
        """The newest resourceVersion handed out (0 for an empty new store)."""
        return self._rv

    def get(self, key: Key) -> Entry | None:
        """Returns the stored entry at `key`, or None."""
        return self._objects.get((key.group, key.plural), {}).get(key.namespace, {}).get(key.name)

    def by_uid(self, uid: str) -> Entry | None:
        """Returns the stored entry with `metadata.uid == uid`, or None."""
        return self._by_uid.get(uid)

    def items(self, group: str, plural: str, namespace: str | None = None) -> Iterator[Entry]:
        """Yields the entries of one resource, in (namespace, name) order.

        Args:
            group: API group ("" for core).
            plural: Resource name.
            namespace: Only this namespace; None for all namespaces (and for cluster-scoped kinds).
        """
        by_ns = self._objects.get((group, plural), {})
        namespaces = [namespace] if namespace is not None else sorted(by_ns)
        for ns in namespaces:
            names = by_ns.get(ns, {})
            for name in sorted(names):
                yield names[name]

    def resources(self) -> list[tuple[str, str]]:
        """Returns the (group, plural) pairs that have stored objects."""
        return [gp for gp, by_ns in self._objects.items() if any(by_ns.values())]

    def in_namespace(self, namespace: str) -> Iterator[Entry]:
        """Yields every stored object in `namespace`, across all resources."""
        for by_ns in list(self._objects.values()):
            yield from list(by_ns.get(namespace, {}).values())

    def put(self, key: Key, obj: Object) -> Entry:
        """Stores `obj` at `key` under the next resourceVersion, which it writes into the object.

        Args:
            key: Where to store it.
            obj: The object; the store takes ownership (callers must not mutate it afterwards).

        Returns:
            The new entry.

        Raises:
            StoreError: The write failed; nothing changed.
        """
        rv = self._rv + 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(rv)
        text = dumps(obj)
        self._write(
            "INSERT OR REPLACE INTO objects (grp, plural, ns, name, rv, data) VALUES (?, ?, ?, ?, ?, ?)",
            (key.group, key.plural, key.namespace, key.name, rv, text),
            rv,
        )
        entry = Entry(key, obj, text, rv)
        old = self.get(key)
        if old is not None:
            self._unindex(old)
        self._index(entry)
        return entry

    def remove(self, key: Key, final: Object) -> Entry:
        """Removes the object at `key`, allocating a resourceVersion for the deletion.

        Args:
            key: The object to remove.
            final: Its last state, which gets the deletion's resourceVersion (the store takes ownership).

        Returns:
            The entry of the deletion event (the final state with the new resourceVersion).

        Raises:
            StoreError: The write failed; nothing changed.
        """
        rv = self._rv + 1
        final.setdefault("metadata", {})["resourceVersion"] = str(rv)
        self._write(
            "DELETE FROM objects WHERE grp = ? AND plural = ? AND ns = ? AND name = ?",
            (key.group, key.plural, key.namespace, key.name),
            rv,
        )
        old = self.get(key)
        if old is not None:
            self._unindex(old)
        return Entry(key, final, dumps(final), rv)

    def _write(self, sql: str, args: tuple[Any, ...], rv: int) -> None:
        try:
            self._db.execute("BEGIN")
            try:
                self._db.execute(sql, args)
                self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('rv', ?)", (rv,))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"write failed: {exc}") from exc
        self._rv = rv

    def _index(self, entry: Entry) -> None:
        key = entry.key
        self._objects.setdefault((key.group, key.plural), {}).setdefault(key.namespace, {})[key.name] = entry
        if entry.uid:
            self._by_uid[entry.uid] = entry

    def _unindex(self, entry: Entry) -> None:
        key = entry.key
        by_ns = self._objects.get((key.group, key.plural), {})
        names = by_ns.get(key.namespace, {})
        names.pop(key.name, None)
        if not names:
            by_ns.pop(key.namespace, None)
        if entry.uid and self._by_uid.get(entry.uid) is entry:
            del self._by_uid[entry.uid]

    def close(self) -> None:
        """Closes the database; the store must not be used afterwards."""
        self._db.close()
