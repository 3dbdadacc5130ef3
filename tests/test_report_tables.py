"""The README's and model cards' number tables are generated from the committed reports (tools/report_tables.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from edgefer.runtime.zoo import SHIPPED

_SPEC = importlib.util.spec_from_file_location(
    "report_tables", Path(__file__).resolve().parents[1] / "tools" / "report_tables.py")
tables = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(tables)

METRICS = {"top1": 0.6123, "top3": 0.9012, "mcc": 0.5555, "macro_f1": 0.6011, "log_loss": 0.987, "roc_auc": 0.901,
           "ece": 0.033}
PROVENANCE = {"data": "faces.csv.gz", "split": "PublicTest", "data_sha256": "d" * 64, "command": "edgefer evaluate x",
              "host_cpu": "a CPU"}


def _reports(root: Path, top1: float = 0.6123) -> None:
    for model in SHIPPED:
        evaluation = {**METRICS, "top1": top1, "model": model.file, "model_sha256": model.sha256, **PROVENANCE}
        reference = {**METRICS, "model": model.reference, "model_sha256": "r" * 64}
        parity = {"reference": reference, "candidate": evaluation, "delta_top1": top1 - METRICS["top1"],
                  "delta_top3": 0.0, "delta_mcc": 0.0, "agreement": 0.9601, "mcnemar_p": 0.5, "passed": True,
                  "ci95": {"delta_top1": [-0.004, 0.006]},
                  "checks": [{"check": "agreement", "value": 0.9601, "limit": 0.95, "op": ">=", "passed": True}],
                  **PROVENANCE}
        for path, report in ((model.evaluation, evaluation), (model.parity, parity)):
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(json.dumps(report))


def test_committed_tables_agree_with_their_reports(capsys):
    assert tables.main(["--check"]) == 0, capsys.readouterr().out


def test_only_the_marked_region_is_rewritten_from_the_reports(tmp_path):
    _reports(tmp_path, top1=0.6789)
    name = SHIPPED[0].name
    text = (f"Typed 0.1111 stays.\n<!-- report-table: evaluation {name} -->\n| stale | 0.1111 |\n"
            "<!-- /report-table -->\nAfter 0.2222.\n")
    new = tables.rewrite(text, tmp_path)
    assert new.startswith("Typed 0.1111 stays.\n") and new.endswith("<!-- /report-table -->\nAfter 0.2222.\n")
    assert "| stale |" not in new and "0.6789" in new and f"sha256 {SHIPPED[0].sha256[:12]}" in new
    assert tables.rewrite(new, tmp_path) == new


def test_a_changed_report_makes_its_table_stale(tmp_path):
    _reports(tmp_path)
    text = "<!-- report-table: shipped -->\n<!-- /report-table -->\n"
    current = tables.rewrite(text, tmp_path)
    assert all(f"`{model.name}`" in current for model in SHIPPED)
    _reports(tmp_path, top1=0.7001)
    assert tables.rewrite(current, tmp_path) != current and "0.7001" in tables.rewrite(current, tmp_path)


@pytest.mark.parametrize("spec, message", [("histogram", "unknown table 'histogram'"),
                                           ("parity nosuchmodel", "no shipped model is called 'nosuchmodel'"),
                                           (f"parity {SHIPPED[0].name}", "no such report")])
def test_a_bad_region_or_a_missing_report_is_an_error(tmp_path, spec, message):
    with pytest.raises(tables.TableError, match=message):
        tables.rewrite(f"<!-- report-table: {spec} -->\n<!-- /report-table -->\n", tmp_path, "doc.md")


def _bench_reports(root: Path, agreement: float = 1.0, drop: str | None = None) -> None:
    """Synthetic bench_mediapipe, bench_web --crops and bench_canonical_input reports for every shipped model."""
    def sizes(net):
        return {str(s): {"agreement": agreement, "mean_abs_score_diff": 0.0004} for s in sorted({48, net, 160})}

    models = {m.name: {"model": m.file, "model_sha256": m.sha256, "network_size": 64, "sizes": sizes(64),
                       "graphs": {"shipped": {"p50_vs_bare_network": 1.031, "top1_agreement_with_pillow_resized_input": 1.0},
                                  "bare network": {"p50_vs_bare_network": 1.0}}}
              for m in SHIPPED if m.name != drop}
    common = {**PROVENANCE, "faces": 12, "rounds": 5, "repeat": 3, "models": models}
    for path in (tables.APP_RUNTIMES, tables.WEB_CROPS, tables.IN_GRAPH_COST):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(json.dumps(common))


def test_benchmark_tables_show_every_shipped_model_from_their_reports(tmp_path):
    _bench_reports(tmp_path, agreement=0.987)
    text = "<!-- report-table: app-runtimes -->\n<!-- /report-table -->\n<!-- report-table: in-graph-cost -->\n<!-- /report-table -->\n"
    new = tables.rewrite(text, tmp_path)
    for model in SHIPPED:
        assert f"| `{model.name}` | 64 px (the network's size) | 0.987, 0.0004 | 0.987, 0.0004 |" in new
        assert f"| `{model.name}` | 64 px | 1.031x (1.000) | - |" in new
    _bench_reports(tmp_path, drop=SHIPPED[-1].name)
    with pytest.raises(tables.TableError, match=f"no entry for the shipped model '{SHIPPED[-1].name}'"):
        tables.rewrite(text, tmp_path)


def test_latency_table_comes_from_bench_rows_of_the_shipped_files(tmp_path):
    model = SHIPPED[0]
    row = {"model": model.name, "path": model.file, "model_sha256": model.sha256, "dtype": "uint8", "threads": 1,
           "p50_ms": 0.4321, "p90_ms": 0.5, "p99_ms": 0.6, "faces_per_s": 2000.4, "size_bytes": 3_975_000,
           "command": "edgefer bench default", "host_cpu": "a CPU"}
    (tmp_path / "models").mkdir()
    (tmp_path / tables.RUNTIME_LATENCY).write_text(json.dumps([row]))
    text = "<!-- report-table: latency -->\n<!-- /report-table -->\n"
    new = tables.rewrite(text, tmp_path)
    assert f"| `{model.name}` | uint8 | 1 | 0.43 | 0.50 | 0.60 | 2000 | 3.98 MB |" in new
    assert "`edgefer bench default` on a CPU" in new
    (tmp_path / tables.RUNTIME_LATENCY).write_text(json.dumps([{**row, "model_sha256": "0" * 64}]))
    with pytest.raises(tables.TableError, match="another file than the shipped one"):
        tables.rewrite(text, tmp_path)


def test_peers_table_needs_robustness_for_every_model_it_times(tmp_path):
    entry = {"top1": 0.6676, "mcc": 0.5992, "ferplus": {"top1": 0.6576, "mean_vote_share": 0.5717}, "size_bytes": 3_975_708,
             "p50_ms": 0.431, "p50_vs_fer": 1.1, "shipped": "fast"}
    peers = {**PROVENANCE, "n": 84, "models": {"edgefer fast (int8)": entry},
             "timing": {"threads": 1, "rounds": 3, "calls_per_round": 5, "load_average_after": 0.4}}
    shifts = {**PROVENANCE, "models": {"edgefer fast (int8)": {"mean_top1_under_shift": 0.6376,
                                                                "mean_ferplus_top1_under_shift": 0.6427}}}
    (tmp_path / "models").mkdir()
    (tmp_path / tables.PEERS).write_text(json.dumps(peers))
    (tmp_path / tables.ROBUSTNESS).write_text(json.dumps(shifts))
    text = "<!-- report-table: peers -->\n<!-- /report-table -->\n"
    assert "| `fast` | 3.98 MB | 0.6676 | 0.5992 | 0.6576 | 0.5717 | 0.6376 | 0.6427 | 0.431 | 1.10x |" in \
        tables.rewrite(text, tmp_path)
    (tmp_path / tables.ROBUSTNESS).write_text(json.dumps({**shifts, "models": {}}))
    with pytest.raises(tables.TableError, match="no entry for 'edgefer fast"):
        tables.rewrite(text, tmp_path)
