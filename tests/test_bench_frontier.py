"""The shipping rule (benchmarks/bench_frontier.py) on hand-made bench_peers reports."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from edgefer.runtime.zoo import DEFAULT_MODEL_NAME

_SPEC = importlib.util.spec_from_file_location(
    "bench_frontier", Path(__file__).resolve().parents[1] / "benchmarks" / "bench_frontier.py")
frontier = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(frontier)


def _model(top1, p50_ms, top3=0.91, mcc=0.60, **extra):
    return {"top1": top1, "top3": top3, "mcc": mcc, "p50_ms": p50_ms, "p50_vs_fer": p50_ms / 0.4,
            "size_bytes": 4_000_000, **extra}


def _peers(**candidates):
    return {"models": {"fer (int8)": _model(0.65, 0.4, mcc=0.58),
                       "edgefer incumbent": _model(0.668, 1.2, shipped=DEFAULT_MODEL_NAME),
                       **candidates}}


def _pick(peers, max_vs_default=0.65, min_gain_pp=1.0):
    return frontier.pick(frontier.rows_of(peers), max_vs_default, min_gain_pp)


def test_the_incumbent_is_kept_when_no_candidate_gains_enough_and_a_quick_one_ships_as_faster():
    picks = _pick(_peers(quick=_model(0.667, 0.7), slow=_model(0.70, 2.0)))
    assert picks == {"new_default": None, "faster": "quick"}


def test_a_candidate_within_budget_that_gains_a_point_without_losing_top3_or_mcc_replaces_the_default():
    picks = _pick(_peers(better=_model(0.68, 0.7, top3=0.92, mcc=0.61), quicker=_model(0.655, 0.5)))
    assert picks == {"new_default": "better", "faster": "quicker"}


@pytest.mark.parametrize("loser", [_model(0.68, 0.7, top3=0.90), _model(0.68, 0.7, mcc=0.59),
                                   _model(0.68, 0.9), _model(0.675, 0.7)])
def test_a_candidate_that_loses_top3_or_mcc_is_too_slow_or_gains_too_little_does_not_replace_it(loser):
    assert _pick(_peers(candidate=loser))["new_default"] is None


def test_nothing_ships_as_faster_below_fers_accuracy():
    assert _pick(_peers(below_fer=_model(0.64, 0.3)))["faster"] is None


def test_exit_code_is_zero_whether_the_default_is_kept_or_replaced(tmp_path, capsys):
    for peers, verdict in ((_peers(), "the incumbent is kept"), (_peers(better=_model(0.69, 0.7)), "better")):
        path = tmp_path / "peers.json"
        path.write_text(json.dumps(peers))
        assert frontier.main([str(path), "--json", str(tmp_path / "picks.json")]) == frontier.DECIDED == 0
        assert verdict in capsys.readouterr().out
        assert set(json.loads((tmp_path / "picks.json").read_text())) == {"new_default", "faster"}


@pytest.mark.parametrize("content", ["not json", json.dumps({"runs": []}),
                                     json.dumps({"models": {"fer (int8)": _model(0.65, 0.4)}}),
                                     json.dumps(_peers(twin=_model(0.7, 0.5, shipped=DEFAULT_MODEL_NAME)))])
def test_exit_code_2_when_the_rule_cannot_decide(tmp_path, capsys, content):
    path = tmp_path / "peers.json"
    path.write_text(content)
    assert frontier.main([str(path)]) == frontier.CANNOT_DECIDE == 2
    err = capsys.readouterr().err
    assert err.startswith("bench_frontier: error: ") and err.count("\n") == 1
    assert frontier.main([str(tmp_path / "missing.json")]) == 2
