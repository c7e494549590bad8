"""Pods running images from the embedded registry: ENTRYPOINT/CMD, image paths, private rootfs copies."""

from __future__ import annotations

import json

from kaptain.cluster.registry.storage import RegistryStorage
from tests.cluster.kubelet.conftest import Node
from tests.cluster.kubelet.helpers import (
    container_status,
    create,
    log_text,
    pod_manifest,
    wait_phase,
    wait_pod,
    waiting_reason,
)
from tests.cluster.registry.images import DOCKER_MANIFEST, Entry, make_config, make_layer, make_manifest

_APP = b"""
import json, os, sys
path = '/app/state.txt'
local = os.path.join(os.environ['KAPTAIN_ROOTFS'], 'app', 'state.txt')
before = open(local).read()
open(local, 'w').write(os.environ['HOSTNAME'])
print(json.dumps({'argv': sys.argv[1:], 'cwd': os.getcwd(), 'before': before, 'greeting': os.environ['GREETING'],
                  'file': os.path.abspath(__file__)}))
"""


def _push(node: Node, repository: str, tag: str) -> str:
    layer = make_layer(
        [
            Entry("app", is_dir=True),
            Entry("app/main.py", _APP),
            Entry("app/state.txt", b"pristine"),
        ]
    )
    config = make_config(
        [layer],
        env=["GREETING=hi"],
        entrypoint=["python"],
        cmd=["/app/main.py", "--from-cmd"],
        working_dir="/app",
    )
    storage = RegistryStorage(node.data_dir)
    storage.put_blob(layer)
    storage.put_blob(config)
    return storage.put_manifest(repository, tag, make_manifest(config, [layer]), DOCKER_MANIFEST).digest


async def test_registry_image_pushed_later_runs_with_entrypoint_cmd_and_private_copies(node: Node) -> None:
    reference = "127.0.0.1:5000/team/app:v1"
    await create(node.core, pod_manifest("a", {"name": "main", "image": reference}))
    pod = await wait_pod(node.core, "a", lambda p: waiting_reason(p) in ("ErrImagePull", "ImagePullBackOff"))
    assert reference in container_status(pod)["state"]["waiting"]["message"]
    digest = _push(node, "team/app", "v1")
    await create(
        node.core, pod_manifest("b", {"name": "main", "image": reference, "args": ["/app/main.py", "x"]})
    )
    for name in ("a", "b"):
        pod = await wait_phase(node.core, name, "Succeeded", "Failed", within=30)
        assert pod["status"]["phase"] == "Succeeded", pod["status"]
    a = json.loads(await log_text(node.kubelet, "a"))
    b = json.loads(await log_text(node.kubelet, "b"))
    assert a["argv"] == ["--from-cmd"] and b["argv"] == ["x"]
    assert a["greeting"] == "hi"
    # Each container starts from the image's files and writes into its own copy.
    assert a["before"] == "pristine" and b["before"] == "pristine"
    assert a["cwd"] != b["cwd"] and a["cwd"].endswith("/rootfs/app")
    assert a["file"] == a["cwd"] + "/main.py"
    image_id = container_status(await wait_phase(node.core, "a", "Succeeded"))["imageID"]
    assert image_id == f"127.0.0.1:5000/team/app@{digest}"
