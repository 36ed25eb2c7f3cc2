#!/usr/bin/env python3
"""Where a process's CPU went: `perf script` output in, a flame graph and a summary out.

    perf script -i perf.data | swift demangle --simplified | profile_report.py OUT_DIR [--title T]

writes, in OUT_DIR:

- `profile.folded`: one line per distinct stack, root first, frames joined by `;`, then the
  number of samples (the "folded" format other flame graph tools read too);
- `flamegraph.svg`: the flame graph (root at the bottom, a frame as wide as its samples; hover a
  frame for its name, samples and share), self-contained, no script;
- `profile.json`: the sample count, the share of samples by where the code lives (the binary,
  each shared library, the kernel) and the frames with the most samples of their own (self)
  and in total (inclusive, counted once per stack).

`make bench` with BATON_BENCH_PROFILE=1 records `baton serve` with `perf record -g` while the
noop bench runs and calls this (docs/performance.md). Standard library only.
"""

import argparse
import collections
import html
import json
import pathlib
import re
import sys

# A frame line of `perf script`: address, symbol (+offset), then the object in parentheses.
FRAME = re.compile(r"^\s*[0-9a-f]+\s+(?P<symbol>.*?)(?:\+0x[0-9a-f]+)?\s+\((?P<object>[^()]*(?:\([^()]*\))?[^()]*)\)\s*$")
MAX_FRAMES = 200
WIDTH = 1200
ROW = 16
MIN_WIDTH = 0.3


def parse(lines):
    """Yields the stacks of `perf script` output, each a list of (symbol, object), leaf first."""
    stack = None
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if stack:
                yield stack
            stack = None
            continue
        if not line[0].isspace():
            # A sample's header (command, pid, time, event): its frames follow.
            if stack:
                yield stack
            stack = []
            continue
        if stack is None:
            continue
        match = FRAME.match(line)
        if match and len(stack) < MAX_FRAMES:
            symbol = match.group("symbol").strip() or "[unknown]"
            stack.append((symbol, match.group("object").strip()))
    if stack:
        yield stack


def component(path):
    """Where a frame's code lives, as a short name: `[kernel]`, a library's or binary's file name."""
    if "kernel" in path:
        return "[kernel]"
    if not path or path == "[unknown]":
        return "[unknown]"
    return pathlib.PurePath(path).name


def frame_name(symbol, path):
    name = symbol if symbol != "[unknown]" else f"[{component(path)}]"
    # `;` separates frames in the folded format.
    return name.replace(";", ":")


def report(lines, title):
    """Folds the stacks; returns (folded counts, summary)."""
    folded = collections.Counter()
    by_component = collections.Counter()
    self_counts = collections.Counter()
    inclusive = collections.Counter()
    samples = 0
    for stack in parse(lines):
        if not stack:
            continue
        samples += 1
        names = [frame_name(symbol, path) for symbol, path in reversed(stack)]
        folded[";".join(names)] += 1
        by_component[component(stack[0][1])] += 1
        self_counts[names[-1]] += 1
        for name in set(names):
            inclusive[name] += 1

    def share(counter, limit):
        return [
            {"name": name, "samples": count, "percent": round(100 * count / samples, 1)}
            for name, count in counter.most_common(limit)
        ]

    summary = {
        "title": title,
        "samples": samples,
        "by_component": share(by_component, 12) if samples else [],
        "top_self": share(self_counts, 25) if samples else [],
        "top_inclusive": share(inclusive, 25) if samples else [],
    }
    return folded, summary


def tree(folded):
    """The folded stacks as a tree: {name: [samples, children]}."""
    root = [0, {}]
    for stack, count in folded.items():
        root[0] += count
        node = root
        for name in stack.split(";"):
            child = node[1].setdefault(name, [0, {}])
            child[0] += count
            node = child
    return root


def svg(folded, title):
    """A flame graph of `folded` as an SVG document."""
    root = tree(folded)
    total = root[0] or 1
    rects = []
    depth_max = 0

    def walk(node, x, depth):
        nonlocal depth_max
        for name, child in sorted(node[1].items()):
            width = child[0] / total * WIDTH
            if width >= MIN_WIDTH:
                depth_max = max(depth_max, depth)
                rects.append((x, depth, width, name, child[0]))
                walk(child, x, depth + 1)
            x += width

    walk(root, 0.0, 0)
    height = (depth_max + 3) * ROW
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'font-family="monospace" font-size="11">',
        f'<text x="4" y="{ROW - 4}">{html.escape(title)} ({root[0]} samples)</text>',
    ]
    for x, depth, width, name, count in rects:
        y = height - (depth + 1) * ROW
        # A warm colour from the name, so one frame keeps its colour across graphs.
        hue = sum(name.encode()) % 50
        label = html.escape(name)
        out.append(
            f'<g><title>{label} ({count} samples, {100 * count / total:.1f}%)</title>'
            f'<rect x="{x:.2f}" y="{y}" width="{width:.2f}" height="{ROW - 1}" fill="hsl({hue},85%,60%)"/>'
        )
        chars = int(width / 7)
        if chars >= 3:
            text = name if len(name) <= chars else name[: chars - 2] + ".."
            out.append(f'<text x="{x + 2:.2f}" y="{y + ROW - 4}">{html.escape(text)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=pathlib.Path, help="folder for profile.folded, flamegraph.svg, profile.json")
    parser.add_argument("--title", default="baton serve", help="the flame graph's title")
    args = parser.parse_args(argv)
    folded, summary = report(sys.stdin, args.title)
    if not summary["samples"]:
        print("profile_report.py: no samples with a call stack in the input", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "profile.folded").write_text("".join(f"{stack} {count}\n" for stack, count in folded.most_common()))
    (args.out / "flamegraph.svg").write_text(svg(folded, args.title))
    (args.out / "profile.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
