"""Applying image layers: order, whiteouts, opaque directories, links, and containment."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from kaptain.cluster.registry.storage import RegistryStorage
from kaptain.cluster.registry.unpack import UnpackError, apply_layer, materialize_image, materialize_manifest
from tests.cluster.registry.images import (
    DOCKER_MANIFEST,
    Entry,
    digest_of,
    make_config,
    make_layer,
    make_manifest,
)


def _write(tmp_path: Path, name: str, entries: list[Entry]) -> Path:
    path = tmp_path / name
    path.write_bytes(make_layer(entries))
    return path


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def test_layers_apply_in_order_with_whiteouts(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    bottom = _write(
        tmp_path,
        "bottom.tar.gz",
        [
            Entry("etc/", is_dir=True),
            Entry("etc/config", b"v1"),
            Entry("etc/removed", b"gone soon"),
            Entry("data/", is_dir=True),
            Entry("data/a", b"a"),
            Entry("data/sub/", is_dir=True),
            Entry("data/sub/b", b"b"),
            Entry("bin/tool", b"#!/bin/sh\n", mode=0o755),
        ],
    )
    top = _write(
        tmp_path,
        "top.tar.gz",
        [
            Entry("etc/config", b"v2"),
            Entry("etc/.wh.removed"),
            # Opaque: what lower layers put in data/ disappears; this layer's data/new stays even
            # though it comes before the marker in the archive.
            Entry("data/new", b"new"),
            Entry("data/.wh..wh..opq"),
            Entry("bin/tool-link", symlink="tool"),
            Entry("bin/tool-hard", hardlink="bin/tool"),
        ],
    )
    apply_layer(rootfs, bottom)
    apply_layer(rootfs, top)
    assert (rootfs / "etc/config").read_bytes() == b"v2"
    assert not (rootfs / "etc/removed").exists()
    assert not (rootfs / "etc/.wh.removed").exists()
    assert _tree(rootfs / "data") == {"new"}
    assert os.readlink(rootfs / "bin/tool-link") == "tool"
    assert (rootfs / "bin/tool-hard").read_bytes() == b"#!/bin/sh\n"
    assert os.access(rootfs / "bin/tool", os.X_OK)


def test_whiteout_of_a_directory_and_replacing_types(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    apply_layer(rootfs, _write(tmp_path, "1", [Entry("d/x/y", b"1"), Entry("f", b"file")]))
    apply_layer(
        rootfs, _write(tmp_path, "2", [Entry(".wh.d"), Entry("f/", is_dir=True), Entry("f/inner", b"2")])
    )
    assert not (rootfs / "d").exists()
    assert (rootfs / "f").is_dir()
    assert (rootfs / "f/inner").read_bytes() == b"2"


def test_entries_cannot_escape_the_root(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    with pytest.raises(UnpackError, match="climbs out"):
        apply_layer(rootfs, _write(tmp_path, "dotdot", [Entry("../evil", b"x")]))
    # An absolute symlink is resolved inside the root, like chroot would.
    apply_layer(
        rootfs,
        _write(tmp_path, "link", [Entry("escape", symlink=str(outside)), Entry("escape/file", b"contained")]),
    )
    assert list(outside.iterdir()) == []
    assert (rootfs / outside.relative_to("/") / "file").read_bytes() == b"contained"


def test_corrupt_layer_is_an_unpack_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"\x1f\x8b this is not gzip")
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    with pytest.raises(UnpackError):
        apply_layer(rootfs, bad)


def test_materialize_is_atomic_and_idempotent(tmp_path: Path) -> None:
    storage = RegistryStorage(tmp_path / "data")
    layers = [
        make_layer([Entry("kaptain/trainer.py", b"print(1)\n")]),
        make_layer([Entry("kaptain/extra", b"e")]),
    ]
    config = make_config(layers, working_dir="/kaptain")
    for blob in [*layers, config]:
        storage.put_blob(blob)
    stored = storage.put_manifest("kaptain/mnist", "v1", make_manifest(config, layers), DOCKER_MANIFEST)
    results: list[Path | None] = []
    threads = [
        threading.Thread(target=lambda: results.append(materialize_manifest(storage, stored)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    image = storage.images_dir / digest_of(config).split(":")[1]
    assert results == [image] * 4
    assert _tree(image / "rootfs") == {"kaptain", "kaptain/trainer.py", "kaptain/extra"}
    assert json.loads((image / "config.json").read_bytes())["config"]["WorkingDir"] == "/kaptain"
    assert [p.name for p in storage.images_dir.iterdir()] == [image.name], "no temporary directories left"
    # A second call finds the finished image and does not touch it.
    marker = image / "rootfs" / "kaptain" / "trainer.py"
    marker.write_text("changed")
    assert materialize_image(storage.images_dir, digest_of(config), config, []) == image
    assert marker.read_text() == "changed"
