"""Tests of scripts/profile_report.py, the flame graph and CPU summary of `make bench`'s profile.

The input is `perf script` text as perf 6 prints it (a header line per sample, then one frame a
line, leaf first, a blank line after each sample), with Swift symbols as `swift demangle
--simplified` leaves them (parentheses, spaces and arrows inside the symbol). Run as `make bench`
runs it: a separate interpreter, the text on stdin.

Run with ``python3 -m pytest tests -q``.
"""

import json
import pathlib
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "profile_report.py"

BATON = "/work/.build/release/baton"


def sample(*frames):
    header = "baton 4242 [001] 21613.008959:    2004008 cpu-clock:ppp: \n"
    lines = "".join(f"\t{0x1000 + index:16x} {symbol} ({path})\n" for index, (symbol, path) in enumerate(frames))
    return header + lines + "\n"


FINISH = "BatonStore.RunStore.finishAndApplyOutcome(_: ClaimedAttempt, state: AttemptState) async throws -> FinishedAttempt?+0x1a4"
CLOSURE = "closure #1 (Swift.Int) -> () in BatonEngine.StageWorker.execute(_:)+0x33"
MAIN = "main+0x10"
SEND = "__send+0x12"
WRITE = "tcp_sendmsg+0x5c"
LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"

PERF_SCRIPT = (
    # Three samples in the hand-off: two in the kernel under send(2), one in the store's code.
    sample((WRITE, "[kernel.kallsyms]"), (SEND, LIBC), (FINISH, BATON), (CLOSURE, BATON), (MAIN, BATON))
    + sample((WRITE, "[kernel.kallsyms]"), (SEND, LIBC), (FINISH, BATON), (CLOSURE, BATON), (MAIN, BATON))
    + sample((FINISH, BATON), (CLOSURE, BATON), (MAIN, BATON))
    # One in a library frame perf could not name; one recursive stack (counted once inclusive).
    + sample(("[unknown]", "/usr/lib/librdkafka.so.1"), (MAIN, BATON))
    + sample((CLOSURE, BATON), (CLOSURE, BATON), (MAIN, BATON))
)


def run(tmp_path, text, *arguments):
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "out"), *arguments],
        input=text, capture_output=True, text=True, timeout=60,
    )


def test_folds_stacks_root_first_with_their_counts(tmp_path):
    result = run(tmp_path, PERF_SCRIPT)
    assert result.returncode == 0, result.stderr
    folded = dict(
        line.rsplit(" ", 1) for line in (tmp_path / "out" / "profile.folded").read_text().splitlines()
    )
    finish = "BatonStore.RunStore.finishAndApplyOutcome(_: ClaimedAttempt, state: AttemptState) async throws -> FinishedAttempt?"
    closure = "closure #1 (Swift.Int) -> () in BatonEngine.StageWorker.execute(_:)"
    assert folded[f"main;{closure};{finish};__send;tcp_sendmsg"] == "2"
    assert folded[f"main;{closure};{finish}"] == "1"
    # A frame perf could not name is named for its library.
    assert folded["main;[librdkafka.so.1]"] == "1"
    assert folded[f"main;{closure};{closure}"] == "1"
    assert sum(int(count) for count in folded.values()) == 5


def test_summary_says_where_the_cpu_went(tmp_path):
    assert run(tmp_path, PERF_SCRIPT, "--title", "serve, 200 in flight").returncode == 0
    summary = json.loads((tmp_path / "out" / "profile.json").read_text())
    assert summary["title"] == "serve, 200 in flight"
    assert summary["samples"] == 5
    components = {entry["name"]: entry["samples"] for entry in summary["by_component"]}
    assert components == {"[kernel]": 2, "baton": 2, "librdkafka.so.1": 1}
    assert summary["by_component"][0]["percent"] == 40.0
    top_self = {entry["name"]: entry["samples"] for entry in summary["top_self"]}
    assert top_self["tcp_sendmsg"] == 2
    inclusive = {entry["name"]: entry["samples"] for entry in summary["top_inclusive"]}
    assert inclusive["main"] == 5
    # The recursive stack counts once for its frame.
    assert inclusive["closure #1 (Swift.Int) -> () in BatonEngine.StageWorker.execute(_:)"] == 4


def test_flame_graph_is_valid_svg_with_a_frame_per_node(tmp_path):
    assert run(tmp_path, PERF_SCRIPT).returncode == 0
    document = ElementTree.parse(tmp_path / "out" / "flamegraph.svg").getroot()
    namespace = "{http://www.w3.org/2000/svg}"
    titles = [element.text for element in document.iter(f"{namespace}title")]
    assert "main (5 samples, 100.0%)" in titles
    assert "tcp_sendmsg (2 samples, 40.0%)" in titles
    # The root frame spans the whole width.
    widths = [float(rect.get("width")) for rect in document.iter(f"{namespace}rect")]
    assert max(widths) == float(document.get("width"))


def test_no_samples_is_an_error_with_a_reason(tmp_path):
    result = run(tmp_path, "perf: no samples\n")
    assert result.returncode == 1
    assert "no samples" in result.stderr
    assert not (tmp_path / "out").exists()
