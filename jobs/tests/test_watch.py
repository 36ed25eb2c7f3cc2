"""The model watch: live accuracy through a real HTTP serving route, drift from prompts."""

import http.server
import json
import subprocess
import sys
import threading

import pytest

from baton_jobs import watch


@pytest.fixture
def route():
    """A serving route on 127.0.0.1 that answers every prompt with `answers[0]`, like Serve's
    {"version", "output"}; returns (url, answers)."""
    answers = ["는"]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps({"version": 1, "output": answers[0]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/korean-llm", answers
    server.shutdown()


def test_accuracy_is_the_share_of_right_answers(route):
    url, answers = route
    items = [{"prompt": "조사: 사과(은/는)", "expected": "는"}, {"prompt": "조사: 책(은/는)", "expected": "은"}]
    assert watch.live_accuracy(items, watch.ask(url, 5)) == 0.5
    answers[0] = "은."  # normalised like the evaluate stage: punctuation does not count
    assert watch.live_accuracy(items, watch.ask(url, 5)) == 0.5
    assert watch.live_accuracy(items, watch.ask("http://127.0.0.1:9/none", 1)) == 0.0  # no answer is wrong
    assert watch.live_accuracy([], watch.ask(url, 5)) is None


def test_drift_is_zero_for_the_same_text_and_one_for_disjoint_text():
    corpus = watch.syllables(["여수의 밤바다는 노래로도 유명해서"])
    assert watch.js_divergence(corpus, corpus) == 0
    assert watch.js_divergence(watch.syllables(["가나다"]), watch.syllables(["라마바"])) == pytest.approx(1)
    near = watch.js_divergence(watch.syllables(["여수의 밤바다는 유명해서"]), corpus)
    far = watch.js_divergence(watch.syllables(["딸기 참외 오이 수박"]), corpus)
    assert 0 < near < far


def test_one_round_from_the_command_line(route, tmp_path, jobs_root):
    url, _ = route
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("\n".join([json.dumps({"prompt": "딸기 참외 오이 수박"}), "not json", "{}"]) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "baton_jobs.watch", "--url", url, "--model", "korean-llm",
         "--testset", str(jobs_root / "data" / "testset.jsonl"), "--corpus", str(jobs_root / "data" / "corpus.jsonl"),
         "--prompts", str(prompts), "--sample", "10000", "--once"],
        cwd=jobs_root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    testset = [json.loads(line) for line in (jobs_root / "data" / "testset.jsonl").read_text().splitlines() if line]
    assert result["model"] == "korean-llm" and result["probes"] == len(testset)
    # The route always answers "는": right exactly for the prompts that expect it.
    assert result["live_accuracy"] == sum(item["expected"] == "는" for item in testset) / len(testset)
    assert 0 < result["live_accuracy"] < 1
    assert 0 < result["drift_score"] <= 1
    bad = subprocess.run([sys.executable, "-m", "baton_jobs.watch", "--url", url, "--model", "m", "--testset", "x",
                          "--corpus", "y", "--sample", "0", "--once"], cwd=jobs_root, capture_output=True, text=True)
    assert bad.returncode == 2 and "--sample must be 1 to 10000" in bad.stderr


def test_metrics_are_served_for_prometheus(route, jobs_root):
    import socket
    import time

    url, _ = route
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "baton_jobs.watch", "--url", url, "--model", "korean-llm",
         "--testset", str(jobs_root / "data" / "testset.jsonl"), "--corpus", str(jobs_root / "data" / "corpus.jsonl"),
         "--sample", "10", "--interval", "0.5", "--port", str(port)],
        cwd=jobs_root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        text = ""
        while 'baton_model_live_accuracy{model="korean-llm"}' not in text and time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                with watch._open(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
                    text = response.read().decode()
            except OSError:
                pass
        assert 'baton_model_live_accuracy{model="korean-llm"}' in text
    finally:
        process.terminate()
        process.wait(timeout=10)
