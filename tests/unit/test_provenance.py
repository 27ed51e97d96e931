"""`oar_p2p.provenance` (pure): settings with their sources, file digests, the masked spec
copy, the last run read from manifests of version 1 and 2, and `show`'s lines for them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import yaml

from oar_p2p.provenance import (
    ExperimentView,
    FileDigest,
    GitState,
    LastRun,
    last_run,
    secret_spec_copy,
    settings_doc,
)
from oar_p2p.render.show import render_show
from oar_p2p.settings import resolve_settings
from oar_p2p.spec.load import parse_spec_text
from oar_p2p.spec.models import ClusterSpec


def test_settings_are_recorded_with_their_source() -> None:
    settings = resolve_settings(
        {"job": 7, "frontend": None},
        {"OAR_P2P_EXECUTOR": "sudo", "FRONTEND_HOSTNAME": "front"},
        ClusterSpec(host_key_policy="accept-new", frontend="spec-front", concurrency_limit=4),
    )
    doc = settings_doc(settings)
    assert doc["job"] == {"value": 7, "source": "flag"}
    assert doc["executor"] == {"value": "sudo", "source": "env OAR_P2P_EXECUTOR"}
    assert doc["frontend"] == {"value": "front", "source": "env FRONTEND_HOSTNAME"}
    assert doc["host_key_policy"] == {"value": "accept-new", "source": "spec"}
    assert doc["concurrency_limit"] == {"value": 4, "source": "spec"}
    assert doc["helper_image"] == {"value": None, "source": "default"}
    assert sorted(doc) == sorted(vars(settings))  # every setting, nothing else
    json.dumps(doc)  # plain values: the enums are their text


def test_a_file_digest_is_the_sha256_of_its_bytes() -> None:
    data = b"0 1.5\n1.5 0\n"
    d = FileDigest.of("/x/latency.txt", data)
    assert d.sha256 == hashlib.sha256(data).hexdigest() and d.size == len(data)
    assert d.doc() == {"path": "/x/latency.txt", "sha256": d.sha256, "bytes": 12, "copy": None}


def test_git_state_document_caps_the_changed_paths() -> None:
    state = GitState("c" * 40, True, "/r", tuple(f" M f{i}" for i in range(60)))
    doc = state.doc()
    assert len(doc["changed"]) == 50 and doc["changed_count"] == 60 and doc["dirty"] is True


SECRET_SPEC = """\
version: 1
name: s   # a comment
network: {addresses: "2", latency_matrix: m.txt}
containers:
  - name: "p-{index}"
    image: i
    env: { TOKEN: "s3cr3t-one", PLAIN: "visible" }
    secret_env: [TOKEN]
  - name: "q-{index}"
    image: i
    env:
      API_PASSWORD: |
        s3cr3t-two
      OTHER: &o s3cr3t-three
      AGAIN: *o
    secret_env: [OTHER]
"""


def test_the_spec_copy_masks_secret_env_values_and_keeps_every_other_byte() -> None:
    spec, _ = parse_spec_text(SECRET_SPEC, "spec.yaml")
    copy, masked = secret_spec_copy(SECRET_SPEC, spec)
    assert copy is not None
    for secret in ("s3cr3t-one", "s3cr3t-two", "s3cr3t-three"):
        assert secret not in copy
    assert masked == (
        "containers[0].env.TOKEN",
        "containers[1].env.API_PASSWORD",
        "containers[1].env.OTHER",
    )  # AGAIN is not a secret key, but an alias of OTHER's (masked) value
    assert "env: { TOKEN: '********', PLAIN: \"visible\" }\n" in copy
    assert "name: s   # a comment\n" in copy
    env = yaml.safe_load(copy)["containers"][1]["env"]
    assert env == {"API_PASSWORD": "********", "OTHER": "********", "AGAIN": "********"}
    plain = SECRET_SPEC.replace("    secret_env: [TOKEN]\n", "").replace("TOKEN", "USER")
    spec, _ = parse_spec_text(plain, "spec.yaml")
    copy, masked = secret_spec_copy(plain, spec)
    assert "s3cr3t-one" in (copy or "") and "containers[0].env.USER" not in masked


def test_a_secret_that_also_occurs_outside_its_env_value_withholds_the_copy() -> None:
    text = SECRET_SPEC.replace("# a comment", "# s3cr3t-one")
    spec, _ = parse_spec_text(text, "spec.yaml")
    copy, masked = secret_spec_copy(text, spec)
    assert copy is None and "containers[0].env.TOKEN" in masked


MANIFEST_V1 = {
    "version": 1,
    "experiment": "demo",
    "run_digest": "ab" * 32,
    "started_at": "2026-12-01T10:00:00+00:00",
    "finished_at": "2026-12-01T10:01:00+00:00",
    "timed_out": False,
    "interrupted": False,
    "containers": [{"name": "p-0", "exit_code": 0}, {"name": "p-1", "exit_code": 3}],
}


def test_last_run_reads_a_version_1_manifest() -> None:
    run = last_run(MANIFEST_V1, "20261201-100000", "runs/20261201-100000")
    assert run == LastRun(
        "20261201-100000",
        "runs/20261201-100000",
        manifest_version=1,
        started_at="2026-12-01T10:00:00+00:00",
        finished_at="2026-12-01T10:01:00+00:00",
        status="failed",
        containers=2,
        failed=1,
        run_digest="ab" * 32,
    )
    assert run.doc("ab" * 32)["matches_spec"] is True
    assert run.doc("cd" * 32)["matches_spec"] is False and run.doc(None)["matches_spec"] is None


def test_last_run_reads_a_version_2_manifest_and_tolerates_garbage() -> None:
    doc = {
        **MANIFEST_V1,
        "version": 2,
        "timed_out": True,
        "git": {"commit": "c" * 40, "dirty": True},
    }
    run = last_run(doc, "r", "runs/r")
    assert (run.status, run.commit, run.dirty, run.manifest_version) == (
        "timed out",
        "c" * 40,
        True,
        2,
    )
    odd = last_run({"containers": "x", "git": [], "version": "2"}, "r", "runs/r")
    assert (odd.containers, odd.commit, odd.manifest_version, odd.status) == (0, None, None, "ok")


def _view(last: LastRun | None, digest: str | None = "ab" * 32) -> ExperimentView:
    return ExperimentView(
        name="demo",
        run_digest=digest,
        state="completed",
        reason=f"run {'ab' * 6} completed",
        runs_dir="runs",
        last=last,
        digest_problem=None if digest else "matrix too small",
        seen_digests=("ab" * 32,),
    )


def test_show_lines_name_the_experiment_and_the_last_run() -> None:
    lines = "".join(render_show({}, experiment=_view(None))).splitlines()
    assert lines == [
        f"Experiment demo (spec run {'ab' * 6}): completed on the machines (run {'ab' * 6} "
        "completed).",
        "Last run: none in runs.",
    ]
    v2 = last_run(
        {**MANIFEST_V1, "version": 2, "git": {"commit": "c" * 40, "dirty": True}}, "r", "runs/r"
    )
    text = "".join(render_show({}, experiment=_view(v2)))
    assert text.endswith(
        "Last run: runs/r: failed (1 of 2 containers exited 0), finished "
        f"2026-12-01T10:01:00+00:00, run {'ab' * 6} (the spec's), commit {'c' * 12} (dirty).\n"
    )
    v1 = last_run(MANIFEST_V1, "r", "runs/r")
    assert "(not the spec's)" in "".join(render_show({}, experiment=_view(v1, "cd" * 32)))
    unknown = "".join(render_show({}, experiment=_view(v1, None)))
    assert "(spec run unknown: matrix too small)" in unknown and "spec's" not in unknown


def test_show_json_has_the_experiment() -> None:
    doc = json.loads("".join(render_show({}, as_json=True, experiment=_view(None))))
    assert doc["experiment"] == {
        "name": "demo",
        "run_digest": "ab" * 32,
        "run_digest_problem": None,
        "machines": {
            "state": "completed",
            "reason": f"run {'ab' * 6} completed",
            "run_digests": ["ab" * 32],
        },
        "runs_dir": "runs",
        "last_run": None,
    }
    assert "experiment" not in json.loads("".join(render_show({}, as_json=True)))


def test_the_digest_of_a_file_holding_secrets_is_withheld() -> None:
    # sha256 of a spec whose only unknown is a short secret can be brute-forced
    masked = replace(FileDigest.of("/x/spec.yaml", b"env: {TOKEN: s3}\n"), masked=("c.env.TOKEN",))
    doc = masked.doc()
    assert doc["sha256"] is None and doc["sha256_withheld"]
    assert doc["copy_masked"] == ["c.env.TOKEN"]
    assert FileDigest.of("/x/spec.yaml", b"env: {}\n").doc()["sha256"] is not None
