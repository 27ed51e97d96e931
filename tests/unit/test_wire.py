"""The reader of script replies: sections, tagged lines, timings (`oar_p2p.wire`)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from oar_p2p.render.commands import render_write_script
from oar_p2p.wire import Line, mark, read_lines, sections, timings
from tests.golden.test_golden import HERE as GOLDEN_DIR
from tests.golden.test_golden import _plan

IMAGE = {"image": ("index", "state")}


def test_tagged_lines_become_records_in_order() -> None:
    text = "image 1 pull-failed\nimage 0 present\n"
    assert read_lines(text, IMAGE) == [
        Line("image", ("1", "pull-failed")),
        Line("image", ("0", "present")),
    ]


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "\n",
        "Status: Downloaded newer image for x\n",  # docker pull noise on stdout
        "images 0 present\n",  # another word that starts like a tag
        " image 0 present\n",  # indented
        "IMAGE 0 present\n",
        "\x00\xff image 0 present\n",
    ],
)
def test_garbage_lines_are_skipped(garbage: str) -> None:
    assert read_lines(garbage + "image 3 absent\n", IMAGE) == [Line("image", ("3", "absent"))]


@pytest.mark.parametrize(
    "line",
    [
        "image\n",
        "image 0\n",
        "image 0 \n",  # an empty last field
        "image  present\n",  # an empty first field
        "image 0 present extra\n",
        "image 0  present\n",
    ],
)
def test_a_line_with_missing_or_extra_fields_is_not_a_record(line: str) -> None:
    assert read_lines(line, IMAGE) == []


def test_a_line_cut_in_the_middle_is_dropped() -> None:
    text = "oar-p2p-timing ip 1000\noar-p2p-timing nft 12"  # the rest never arrived
    assert read_lines(text, {"oar-p2p-timing": ("step", "ns")}) == [
        Line("oar-p2p-timing", ("ip", "1000"))
    ]
    assert timings(text) == {"ip": 1000}


def test_a_rest_field_takes_the_rest_of_the_line_spaces_included() -> None:
    formats = {"acquired": (), "held": ("holder*",), "pair": ("src", "dst*")}
    text = "held alice@fe pid 4 (apply) since=10\nheld\nacquired\nacquired now\npair a b c\n"
    assert [(r.tag, r.fields) for r in read_lines(text, formats)] == [
        ("held", ("alice@fe pid 4 (apply) since=10",)),
        ("held", ("",)),
        ("acquired", ()),
        ("pair", ("a", "b c")),
    ]


def test_timings_add_up_a_repeated_step_and_skip_bad_numbers() -> None:
    text = (
        "oar-p2p-timing ip 100\n"
        "oar-p2p-timing tc 5\n"
        "RTNETLINK answers: File exists\n"
        "oar-p2p-timing tc 7\n"
        "oar-p2p-timing nft -3\n"
        "oar-p2p-timing nft\n"
        "oar-p2p-timing nft 1 2\n"
    )
    assert timings(text) == {"ip": 100, "tc": 12}
    assert timings("") == {}


def test_sections_split_on_mark_lines_only() -> None:
    text = (
        "before\n"
        "### oar-p2p:hostname ###\ngengar-1\n"
        "### oar-p2p:tc-qdisc:bond0 ###\n[]\n"
        "text ### oar-p2p:inline ### is no mark\n"
        "### oar-p2p:end ###\n"
    )
    assert sections(text) == {
        "": "before\n",
        "hostname": "gengar-1\n",
        "tc-qdisc:bond0": "[]\ntext ### oar-p2p:inline ### is no mark\n",
        "end": "",
    }


def test_sections_without_a_preamble_have_no_empty_name() -> None:
    assert sections("### oar-p2p:a ###\nx") == {"a": "x"}
    assert sections("") == {}
    assert sections("no marks\n") == {"": "no marks\n"}


def test_a_mark_cut_in_the_middle_opens_no_section() -> None:
    text = "### oar-p2p:sysctl ###\nk=1\n### oar-p2p:rec"
    assert sections(text) == {"sysctl": "k=1\n### oar-p2p:rec"}
    assert "end" not in sections(text)


def test_a_name_marked_twice_keeps_its_last_body() -> None:
    assert sections("### oar-p2p:a ###\n1\n### oar-p2p:a ###\n2\n") == {"a": "2\n"}


def test_mark_builds_what_sections_reads_and_refuses_bad_names() -> None:
    assert sections(mark("pair:10.16.0.1:10.16.0.2") + "\nx\n") == {
        "pair:10.16.0.1:10.16.0.2": "x\n"
    }
    for bad in ["", "a b", "a###", "a\nb"]:
        with pytest.raises(ValueError, match="invalid section name"):
            mark(bad)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_timings_reads_what_the_write_script_prints() -> None:
    plan, _ = _plan(GOLDEN_DIR / "ping-demo")
    script = render_write_script(plan.machines[0])
    helpers = [line for line in script.splitlines() if line.startswith(("_t()", "_done()"))]
    assert len(helpers) == 2, "the write script's timer helpers moved: update this test"
    run = [*helpers, "s=$(_t)", "_done ip $s", "_done tc $s", "echo noise", "_done tc $s"]
    proc = subprocess.run(["bash", "-c", "\n".join(run)], capture_output=True, check=True)
    got = timings(proc.stdout.decode())
    assert set(got) == {"ip", "tc"}
    assert got["tc"] >= 2 * got["ip"] >= 0  # tc twice, each measured later than ip
