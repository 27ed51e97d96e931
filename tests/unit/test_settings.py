"""Settings: flag > environment > spec > default, each with its source."""

from __future__ import annotations

from typing import Any

import pytest

from oar_p2p.errors import ValueParseError
from oar_p2p.settings import ENV, Setting, resolve_settings
from oar_p2p.spec.models import ClusterSpec

NO_FLAGS: dict[str, Any] = {}
SPEC = ClusterSpec(
    job=11,
    frontend="spec-front",
    username="spec-user",
    concurrency_limit=3,
    executor="sudo",
    host_key_policy="accept-new",
)


def test_defaults() -> None:
    s = resolve_settings(NO_FLAGS, {})
    assert (s.job.value, s.job.source) == (None, "default")
    assert (s.frontend.value, s.frontend.source) == (None, "default")
    assert (s.concurrency_limit.value, s.concurrency_limit.source) == (0, "default")
    assert (s.executor.value, s.executor.source) == ("docker", "default")
    assert (s.host_key_policy.value, s.host_key_policy.source) == ("strict", "default")


def test_spec_over_default() -> None:
    s = resolve_settings(NO_FLAGS, {}, SPEC)
    assert (s.job.value, s.job.source) == (11, "spec")
    assert (s.frontend.value, s.frontend.source) == ("spec-front", "spec")
    assert (s.username.value, s.username.source) == ("spec-user", "spec")
    assert (s.concurrency_limit.value, s.concurrency_limit.source) == (3, "spec")
    assert (s.executor.value, s.executor.source) == ("sudo", "spec")


def test_env_over_spec() -> None:
    env = {
        "OAR_JOB_ID": "4242",
        "FRONTEND_HOSTNAME": "dicluster",
        "CLUSTER_USERNAME": "me",
        "OAR_P2P_CONCURRENCY_LIMIT": "8",
        "OAR_P2P_EXECUTOR": "root",
    }
    s = resolve_settings(NO_FLAGS, env, SPEC)
    assert (s.job.value, s.job.source) == (4242, "env OAR_JOB_ID")
    assert (s.frontend.value, s.frontend.source) == ("dicluster", "env FRONTEND_HOSTNAME")
    assert (s.username.value, s.username.source) == ("me", "env CLUSTER_USERNAME")
    assert (s.concurrency_limit.value, s.concurrency_limit.source) == (
        8,
        "env OAR_P2P_CONCURRENCY_LIMIT",
    )
    assert (s.executor.value, s.executor.source) == ("root", "env OAR_P2P_EXECUTOR")
    # not set in the environment: still from the spec
    assert (s.host_key_policy.value, s.host_key_policy.source) == ("accept-new", "spec")


def test_flag_over_env() -> None:
    env = {"OAR_JOB_ID": "4242", "FRONTEND_HOSTNAME": "dicluster", "CLUSTER_USERNAME": "me"}
    flags = {"job": 7, "frontend": "flag-front", "username": None, "concurrency_limit": 2}
    s = resolve_settings(flags, env, SPEC)
    assert (s.job.value, s.job.source) == (7, "flag")
    assert (s.frontend.value, s.frontend.source) == ("flag-front", "flag")
    assert (s.username.value, s.username.source) == ("me", "env CLUSTER_USERNAME")  # None flag
    assert (s.concurrency_limit.value, s.concurrency_limit.source) == (2, "flag")


def test_empty_env_value_is_unset() -> None:
    s = resolve_settings(NO_FLAGS, {"OAR_JOB_ID": "", "FRONTEND_HOSTNAME": ""}, SPEC)
    assert (s.job.source, s.frontend.source) == ("spec", "spec")


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", "on", " 1 "])
def test_infer_from_env(value: str) -> None:
    s = resolve_settings(NO_FLAGS, {"OAR_P2P_INFER_JOB_ID": value}, SPEC)
    assert (s.job.value, s.job.source) == ("infer", "env OAR_P2P_INFER_JOB_ID")


@pytest.mark.parametrize("value", ["0", "false", "no", "off", ""])
def test_infer_false_in_env_falls_through(value: str) -> None:
    s = resolve_settings(NO_FLAGS, {"OAR_P2P_INFER_JOB_ID": value, "OAR_JOB_ID": "5"})
    assert (s.job.value, s.job.source) == (5, "env OAR_JOB_ID")


def test_infer_env_beats_job_env_and_spec() -> None:
    env = {"OAR_P2P_INFER_JOB_ID": "true", "OAR_JOB_ID": "5"}
    assert resolve_settings(NO_FLAGS, env, SPEC).job.value == "infer"


def test_job_flag_beats_infer_env() -> None:
    s = resolve_settings({"job": 9}, {"OAR_P2P_INFER_JOB_ID": "1"})
    assert (s.job.value, s.job.source) == (9, "flag")


def test_infer_flag_beats_job_env() -> None:
    s = resolve_settings({"infer": True}, {"OAR_JOB_ID": "5"})
    assert (s.job.value, s.job.source) == ("infer", "flag")


def test_infer_in_spec() -> None:
    s = resolve_settings(NO_FLAGS, {}, ClusterSpec(job="infer"))
    assert (s.job.value, s.job.source) == ("infer", "spec")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OAR_JOB_ID": "abc"}, "invalid job id 'abc': allowed: a whole number >= 0"),
        ({"OAR_JOB_ID": "-3"}, "invalid job id '-3'"),
        ({"OAR_JOB_ID": "4.2"}, "invalid job id '4.2'"),
        ({"OAR_JOB_ID": "²"}, "invalid job id '²'"),
        ({"OAR_P2P_CONCURRENCY_LIMIT": "many"}, "invalid concurrency limit 'many'"),
        (
            {"OAR_P2P_INFER_JOB_ID": "maybe"},
            "invalid OAR_P2P_INFER_JOB_ID 'maybe': allowed: 1, true, yes, on, or 0, false, no, off",
        ),
        ({"OAR_P2P_EXECUTOR": "podman"}, "invalid executor 'podman': allowed: docker, sudo, root"),
        (
            {"OAR_P2P_HOST_KEY_POLICY": "yolo"},
            "invalid host key policy 'yolo': allowed: strict, accept-new, off",
        ),
    ],
)
def test_bad_env_values(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueParseError) as info:
        resolve_settings(NO_FLAGS, env)
    assert info.value.message.startswith(message)


def test_every_setting_carries_its_source() -> None:
    settings = resolve_settings({"frontend": "f"}, {"OAR_JOB_ID": "3"})
    assert settings.job == Setting(3, "env OAR_JOB_ID")
    assert settings.frontend == Setting("f", "flag")
    assert settings.username == Setting(None, "default")
    assert settings.concurrency_limit == Setting(0, "default")


def test_env_names_match_the_original_tool() -> None:
    assert ENV["job"] == "OAR_JOB_ID"
    assert ENV["infer"] == "OAR_P2P_INFER_JOB_ID"
    assert ENV["frontend"] == "FRONTEND_HOSTNAME"
    assert ENV["username"] == "CLUSTER_USERNAME"
    assert ENV["concurrency_limit"] == "OAR_P2P_CONCURRENCY_LIMIT"


@pytest.mark.parametrize(
    ("flags", "env", "message"),
    [
        (
            {"frontend": "-oProxyCommand=touch /tmp/x"},
            {},
            "--frontend-hostname / FRONTEND_HOSTNAME: invalid ssh alias '-oProxyCommand=",
        ),
        (
            {},
            {"FRONTEND_HOSTNAME": "front; id"},
            "--frontend-hostname / FRONTEND_HOSTNAME: invalid ssh alias 'front; id'",
        ),
        (
            {},
            {"CLUSTER_USERNAME": "-l root"},
            "--cluster-username / CLUSTER_USERNAME: user name '-l root' is invalid",
        ),
        ({"host_key_policy": "OFF"}, {}, "invalid host key policy 'OFF': allowed: strict"),
    ],
)
def test_frontend_user_and_policy_flags_and_env_are_checked(
    flags: dict[str, str], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueParseError) as info:
        resolve_settings(flags, env)
    assert str(info.value).startswith(message), str(info.value)


def test_a_plain_frontend_and_user_pass() -> None:
    s = resolve_settings({"frontend": "dicluster"}, {"CLUSTER_USERNAME": "alice"})
    assert (s.frontend.value, s.frontend.source) == ("dicluster", "flag")
    assert (s.username.value, s.username.source) == ("alice", "env CLUSTER_USERNAME")


@pytest.mark.parametrize(
    ("flags", "env", "expected"),
    [
        ({}, {}, Setting(50.0, "default")),
        (
            {},
            {"OAR_P2P_CLOCK_THRESHOLD_MS": "12.5"},
            Setting(12.5, "env OAR_P2P_CLOCK_THRESHOLD_MS"),
        ),
        ({"clock_threshold_ms": 5.0}, {"OAR_P2P_CLOCK_THRESHOLD_MS": "12"}, Setting(5.0, "flag")),
    ],
    ids=["default", "env", "flag-over-env"],
)
def test_the_clock_threshold(flags: dict[str, Any], env: dict[str, str], expected: Setting) -> None:
    assert resolve_settings(flags, env).clock_threshold_ms == expected


@pytest.mark.parametrize("text", ["-1", "fifty", "50ms", ""])
def test_a_bad_clock_threshold_names_both_ways_to_set_it(text: str) -> None:
    env = {"OAR_P2P_CLOCK_THRESHOLD_MS": text}
    if text == "":  # empty is "not set", as for every variable
        assert resolve_settings(NO_FLAGS, env).clock_threshold_ms.source == "default"
        return
    with pytest.raises(ValueParseError) as info:
        resolve_settings(NO_FLAGS, env)
    assert str(info.value) == (
        f"invalid clock threshold (--clock-threshold-ms / OAR_P2P_CLOCK_THRESHOLD_MS) {text!r}: "
        "allowed: a number of milliseconds >= 0 (e.g. 50, 2.5)"
    )
