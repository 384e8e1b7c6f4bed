"""The benchmark in the suite: scripts/bench.py --quick (small sizes, one run)
must run every case to the end and write a table with every row, the JSON
and the chart. No timing is asserted: the full benchmark holds the targets."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

from mount import REPO, require_fuse, umongofs_bin

BENCH = os.path.join(REPO, "scripts", "bench.py")
sys.path.insert(0, os.path.join(REPO, "scripts"))
import bench  # noqa: E402


def _chart_tool():
    return bool(shutil.which("gnuplot") or importlib.util.find_spec("matplotlib"))


def test_quick_bench_writes_every_row_and_the_chart(tmp_path):
    require_fuse()
    if not _chart_tool():
        pytest.skip("no gnuplot or python3-matplotlib (scripts/bench.sh installs gnuplot)")
    out = tmp_path / "out"
    r = subprocess.run(["/usr/bin/python3", BENCH, "--quick", "--bin", umongofs_bin(),
                        "--out", str(out)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=300)
    assert r.returncode == 0, "bench.py --quick failed:\n%s\n%s" % (r.stdout, r.stderr[-4000:])

    with open(out / "results.json", encoding="utf-8") as f:
        res = json.load(f)
    rows = {row["id"]: row for row in res["rows"]}
    assert list(rows) == list(bench.ROW_IDS)
    for rid, row in rows.items():
        # Every case ran (a missing optional tool says "skipped" with the reason).
        assert row["result"] in ("PASS", "FAIL", "info", "skipped"), row
        if row["result"] == "skipped":
            assert "not installed" in row["notes"], row
        else:
            assert row["umongofs"], row
        if row["result"] in ("PASS", "FAIL"):
            assert row["target"] and row["values"].get("score", 0) > 0, row
    for rid in ("seq_http", "seq_https", "profile"):
        v = rows[rid]["values"]
        assert v["umongofs_mbps"] > 0 and v["curl_mbps"] > 0 and v["cpu_s_per_gib"] > 0, rid
    for rid in ("cache_first", "cache_hit", "cache_vs_dd"):  # the disk cache (cache_dir=)
        assert rows[rid]["values"]["mbps"] > 0, rid
    assert rows["cache_hit"]["values"]["beyond_validation"] >= 0
    assert rows["cache_vs_dd"]["values"]["dd_mbps"] > 0
    assert res["meta"]["mode"] == "quick" and res["meta"]["failures"] == []

    md = (out / "results.md").read_text(encoding="utf-8")
    assert md.strip() == r.stdout.strip()
    table = [ln for ln in md.splitlines() if ln.startswith("| ")]
    assert table[0].startswith("| case | umongofs | reference | ratio | daemon CPU s/GiB")
    assert len(table) == 1 + len(bench.ROW_IDS)
    for line, rid in zip(table[1:], bench.ROW_IDS):
        assert line.startswith("| " + rows[rid]["case"].replace("|", "\\|") + " |"), line
        assert line.rstrip().endswith("|")

    png = out / "chart.png"
    assert png.exists() and png.stat().st_size > 1000
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
