"""The embedded cluster as the real kubectl (1.37) sees it."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from kaptain.cluster.apiserver.builtin import JOBS
from tests.cluster.conftest import RunningCluster
from tests.conftest import CRDS

MANIFESTS = """\
apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: team, labels: {app: demo}}
data: {mode: fast, level: "1"}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: team}
stringData: {password: hunter2}
---
apiVersion: v1
kind: Pod
metadata: {name: runner, namespace: team, labels: {app: demo}}
spec:
  containers:
  - name: main
    image: python:3.11
    command: [python, -c, "print('hi')"]
---
apiVersion: batch/v1
kind: Job
metadata: {name: pi, namespace: team}
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: pi
        image: python:3.11
        command: [python, -c, "print(3.14)"]
"""

PYTORCHJOB = """\
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: mnist, namespace: default}
spec:
  pytorchReplicaSpecs:
    Master:
      replicas: REPLICAS
      restartPolicy: OnFailure
      template:
        spec:
          containers: [{name: pytorch, image: python:3.11}]
"""


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _watching(line: str) -> bool:
    """Whether a `kubectl -v=6` stderr line reports its watch request as answered."""
    return "watch=true" in line and 'status="200 OK"' in line


_WATCHING = _watching


def _load_yaml(path: str) -> dict[str, object]:
    loaded = yaml.safe_load(Path(path).read_text())
    assert isinstance(loaded, dict)
    return loaded


def _header(output: str) -> list[str]:
    return output.splitlines()[0].split()


async def test_version_and_api_resources(cluster: RunningCluster) -> None:
    version = json.loads((await cluster.kubectl("version", "-o", "json")).check().stdout)
    assert version["serverVersion"]["major"] == "1"
    assert version["serverVersion"]["minor"] == "37"
    resources = (await cluster.kubectl("api-resources", "--no-headers")).check().stdout
    rows = {line.split()[0]: line.split() for line in resources.splitlines()}
    assert rows["pods"][1:] == ["po", "v1", "true", "Pod"]
    assert rows["jobs"][1:] == ["batch/v1", "true", "Job"]
    assert rows["pytorchjobs"][1:] == ["kubeflow.org/v1", "true", "PyTorchJob"]
    assert rows["namespaces"][1:] == ["ns", "v1", "false", "Namespace"]


async def test_apply_get_describe_and_delete(cluster: RunningCluster, tmp_path: Path) -> None:
    manifest = _write(tmp_path, "app.yaml", MANIFESTS)
    applied = (await cluster.kubectl("apply", "-f", manifest)).check().stdout
    assert applied.splitlines() == [
        "namespace/team created",
        "configmap/settings created",
        "secret/creds created",
        "pod/runner created",
        "job.batch/pi created",
    ]
    again = (await cluster.kubectl("apply", "-f", manifest)).check().stdout
    assert "configmap/settings unchanged" in again and "pod/runner unchanged" in again
    changed = _write(tmp_path, "changed.yaml", MANIFESTS.replace("mode: fast", "mode: slow"))
    assert "configmap/settings configured" in (await cluster.kubectl("apply", "-f", changed)).check().stdout

    config = json.loads(
        (await cluster.kubectl("-n", "team", "get", "configmap", "settings", "-o", "json")).check().stdout
    )
    assert config["data"] == {"mode": "slow", "level": "1"}
    assert "kubectl.kubernetes.io/last-applied-configuration" in config["metadata"]["annotations"]
    secret = json.loads(
        (await cluster.kubectl("-n", "team", "get", "secret", "creds", "-o", "json")).check().stdout
    )
    assert secret["data"] == {"password": "aHVudGVyMg=="}

    pods = (await cluster.kubectl("-n", "team", "get", "pods")).check().stdout
    assert _header(pods) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert pods.splitlines()[1].split()[:4] == ["runner", "0/1", "Pending", "0"]
    jobs = (await cluster.kubectl("-n", "team", "get", "jobs")).check().stdout
    assert _header(jobs) == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert jobs.splitlines()[1].split()[:3] == ["pi", "Running", "0/1"]
    everything = (await cluster.kubectl("get", "pods,configmaps", "-A", "-l", "app=demo")).check().stdout
    assert "team        pod/runner" in everything and "configmap/settings" in everything
    names = (await cluster.kubectl("-n", "team", "get", "cm", "-o", "name")).check().stdout.split()
    assert "configmap/settings" in names

    described = (await cluster.kubectl("-n", "team", "describe", "pod", "runner")).check().stdout
    assert "Name:             runner" in described
    assert "Image:      python:3.11" in described
    labelled = await cluster.kubectl("-n", "team", "label", "configmap", "settings", "tier=gold")
    assert "labeled" in labelled.check().stdout
    by_label = (
        (await cluster.kubectl("-n", "team", "get", "cm", "-l", "tier=gold", "-o", "name")).check().stdout
    )
    assert by_label.split() == ["configmap/settings"]

    deleted = (await cluster.kubectl("-n", "team", "delete", "configmap", "settings")).check().stdout
    assert 'configmap "settings" deleted' in deleted
    missing = await cluster.kubectl("-n", "team", "get", "configmap", "settings")
    assert missing.returncode == 1
    assert 'configmaps "settings" not found' in missing.stderr


async def test_get_watch_sees_later_changes(cluster: RunningCluster, tmp_path: Path) -> None:
    async with cluster.kubectl_background("get", "configmaps", "--watch", "--output-watch-events") as watch:
        # Created before or after kubectl's initial list, the object is printed as ADDED either way.
        created = _write(
            tmp_path, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: late}\ndata: {a: b}\n"
        )
        (await cluster.kubectl("apply", "-f", created)).check()
        await watch.wait_for_line(lambda line: line.split()[:2] == ["ADDED", "late"])
        (await cluster.kubectl("delete", "configmap", "late")).check()
        await watch.wait_for_line(lambda line: line.split()[:2] == ["DELETED", "late"])


async def test_wait_for_condition_and_for_delete(cluster: RunningCluster, tmp_path: Path) -> None:
    (await cluster.kubectl("apply", "-f", _write(tmp_path, "app.yaml", MANIFESTS))).check()
    async with cluster.kubectl_background(
        "-n", "team", "wait", "--for=condition=complete", "job/pi", "--timeout=30s", "-v=6"
    ) as waiting:
        await waiting.wait_for_line(_WATCHING, stderr=True)
        current = await cluster.core.get(JOBS, "team", "pi")
        current["status"] = {
            "startTime": "2024-01-01T00:00:00Z",
            "completionTime": "2024-01-01T00:00:07Z",
            "succeeded": 1,
            "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True"},
                {"type": "Complete", "status": "True"},
            ],
        }
        await cluster.core.update(JOBS, "team", "pi", current, subresource="status")
        assert await waiting.wait_for_line("condition met") == "job.batch/pi condition met"
    jobs = (await cluster.kubectl("-n", "team", "get", "job", "pi", "--no-headers")).check().stdout
    assert jobs.split()[:4] == ["pi", "Complete", "1/1", "7s"]
    async with cluster.kubectl_background(
        "-n", "team", "wait", "--for=delete", "pod/runner", "--timeout=30s", "-v=6"
    ) as waiting:
        await waiting.wait_for_line(_WATCHING, stderr=True)
        (await cluster.kubectl("-n", "team", "delete", "pod", "runner", "--wait=false")).check()
        assert await waiting.wait_for_line("condition met") == "pod/runner condition met"


async def test_upstream_crd_applies_and_validates(cluster: RunningCluster, tmp_path: Path) -> None:
    crd = str(CRDS / "kubeflow.org_pytorchjobs.yaml")
    # Client-side apply stores the whole CRD in an annotation and hits the 256 KiB annotation limit,
    # on a real apiserver as here; server-side apply is how these CRDs are installed.
    client_side = await cluster.kubectl("apply", "-f", crd)
    assert client_side.returncode == 1
    assert "metadata.annotations: Too long" in client_side.stderr
    applied = (await cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", crd)).check().stdout
    assert (
        applied.strip()
        == "customresourcedefinition.apiextensions.k8s.io/pytorchjobs.kubeflow.org serverside-applied"
    )
    stored = json.loads(
        (await cluster.kubectl("get", "crd", "pytorchjobs.kubeflow.org", "-o", "json")).check().stdout
    )
    upstream = _load_yaml(crd)
    assert stored["spec"]["versions"][0]["subresources"] == upstream["spec"]["versions"][0]["subresources"]

    bad = await cluster.kubectl(
        "apply", "-f", _write(tmp_path, "bad.yaml", PYTORCHJOB.replace("REPLICAS", '"two"'))
    )
    assert bad.returncode == 1
    assert 'The PyTorchJob "mnist" is invalid' in bad.stderr
    assert "spec.pytorchReplicaSpecs.Master.replicas" in bad.stderr
    good = await cluster.kubectl(
        "apply", "-f", _write(tmp_path, "good.yaml", PYTORCHJOB.replace("REPLICAS", "1"))
    )
    assert good.check().stdout.strip() == "pytorchjob.kubeflow.org/mnist created"
    status = (
        '{"status":{"conditions":[{"type":"Created","status":"True"},{"type":"Running","status":"True"}]}}'
    )
    patched = await cluster.kubectl(
        "patch", "pytorchjob", "mnist", "--subresource=status", "--type=merge", "-p", status
    )
    patched.check()
    table = (await cluster.kubectl("get", "pytorchjobs")).check().stdout
    assert _header(table) == ["NAME", "STATE", "AGE"]
    assert table.splitlines()[1].split()[:2] == ["mnist", "Running"]
    explained = (await cluster.kubectl("explain", "pytorchjobs.spec.runPolicy")).check().stdout
    assert "KIND:       PyTorchJob" in explained
    assert "activeDeadlineSeconds" in explained


async def test_unauthorized_kubectl(cluster: RunningCluster, tmp_path: Path) -> None:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["users"][0]["user"]["token"] = "not-the-token"
    wrong = tmp_path / "wrong-kubeconfig"
    wrong.write_text(yaml.safe_dump(config))
    result = await cluster.kubectl(f"--kubeconfig={wrong}", "get", "configmaps")
    assert result.returncode == 1
    assert "Unauthorized" in result.stderr or "must be logged in" in result.stderr
    assert cluster.token not in result.stderr


async def test_create_from_manifest_and_protobuf_generators(cluster: RunningCluster, tmp_path: Path) -> None:
    manifest = _write(
        tmp_path, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: made}\ndata: {a: b}\n"
    )
    assert (
        await cluster.kubectl("create", "-f", manifest)
    ).check().stdout.strip() == "configmap/made created"
    again = await cluster.kubectl("create", "-f", manifest)
    assert again.returncode == 1
    assert 'configmaps "made" already exists' in again.stderr
    # kubectl's generators encode the object in protobuf, which this server does not decode.
    generated = await cluster.kubectl("create", "configmap", "literal", "--from-literal=a=b")
    assert generated.returncode == 1
    assert "not protobuf" in generated.stderr
    assert (await cluster.kubectl("get", "configmap", "literal")).returncode == 1


async def test_apply_rejects_unknown_fields_of_custom_resources(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    typo = PYTORCHJOB.replace("REPLICAS", "1").replace(
        "  pytorchReplicaSpecs:", "  replicaz: 3\n  pytorchReplicaSpecs:"
    )
    manifest = _write(tmp_path, "typo.yaml", typo)
    strict = await cluster.kubectl("apply", "-f", manifest)
    assert strict.returncode == 1
    assert 'strict decoding error: unknown field "spec.replicaz"' in strict.stderr
    warned = (await cluster.kubectl("apply", "--validate=warn", "-f", manifest)).check()
    assert 'Warning: unknown field "spec.replicaz"' in warned.stderr
    assert warned.stdout.strip() == "pytorchjob.kubeflow.org/mnist created"
