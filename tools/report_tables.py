"""Write the number tables of the README and the model cards from the committed reports.

Each table sits between two markers, and only what lies between them is rewritten:

    <!-- report-table: evaluation default -->
    ...
    <!-- /report-table -->

A table names its kind and, where it has one, a shipped model (edgefer.runtime.zoo), and
ends with the provenance of its numbers: the report file, the model's and the data's
hash, the command and the host. `--check` writes nothing and exits 1 when a table
differs from what its reports give (tests/test_report_tables.py runs it).

    python tools/report_tables.py           # rewrite the tables
    python tools/report_tables.py --check   # exit 1 if any is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any, Callable

from edgefer.runtime.zoo import BENCH_REPORTS, REPOSITORY, SHIPPED, SHIPPED_MODELS, ShippedModel

DOCUMENTS = ("README.md", *(model.card for model in SHIPPED))
REGION = re.compile(r"(<!-- report-table: (?P<spec>[^>]*?) -->\n)(?P<body>.*?)(<!-- /report-table -->)", re.S)
METRICS = (("top1", "top-1", 4), ("top3", "top-3", 4), ("mcc", "MCC", 4), ("macro_f1", "macro-F1", 4),
           ("log_loss", "log loss", 3), ("roc_auc", "ROC-AUC", 3), ("ece", "ECE", 3))


class TableError(Exception):
    """A region that names no known table, or a report that is missing."""


def read(path: str, root: Path) -> dict[str, Any]:
    file = root / path
    if not file.is_file():
        raise TableError(f"{path}: no such report")
    return json.loads(file.read_text(encoding="utf-8"))


def _source(path: str, report: dict[str, Any], side: dict[str, Any] | None = None) -> str:
    model = side or report
    return (f"<sub>From `{path}`: model `{model['model']}` (sha256 {str(model.get('model_sha256'))[:12]}), "
            f"data `{report['data']}` [{report['split']}] (sha256 {str(report.get('data_sha256'))[:12]}), "
            f"`{report.get('command')}`, on {report.get('host_cpu')}.</sub>")


def _metric_cells(report: dict[str, Any], keys=METRICS) -> str:
    return " | ".join(f"{report[key]:.{digits}f}" for key, _, digits in keys)


def _ferplus_cells(report: dict[str, Any]) -> str:
    """FER+ plurality top-1 and mean vote share ('-' for a report scored without votes)."""
    fp = report.get("ferplus") or {}
    return " | ".join("-" if fp.get(key) is None else f"{fp[key]:.4f}" for key in ("top1", "mean_vote_share"))


def shipped_table(root: Path) -> str:
    """README: one row per shipped model, its PublicTest numbers and its parity verdict."""
    keys = METRICS[:4]
    lines = ["| name | " + " | ".join(title for _, title, _ in keys) + " | FER+ top-1 | vote share "
             "| int8 vs float16: top-1, agreement | model card |",
             "|---|" + "---:|" * (len(keys) + 2) + "---|---|"]
    sources = []
    for model in SHIPPED:
        evaluation, parity = read(model.evaluation, root), read(model.parity, root)
        verdict = "PASS" if parity["passed"] else "FAIL"
        lines.append(f"| `{model.name}` | {_metric_cells(evaluation, keys)} | {_ferplus_cells(evaluation)} | "
                     f"{100 * parity['delta_top1']:+.2f} pp, {parity['agreement']:.4f} {verdict} | "
                     f"[{Path(model.card).name}]({model.card}) |")
        sources += [_source(model.evaluation, evaluation), _source(model.parity, parity, parity["candidate"])]
    return "\n".join(lines + [""] + [s + "<br>" for s in sources[:-1]] + sources[-1:])


def evaluation_table(root: Path, model: ShippedModel) -> str:
    """A card: the float16 reference and the shipped int8 model, every metric of the evaluate report."""
    evaluation, parity = read(model.evaluation, root), read(model.parity, root)
    lines = ["| model | " + " | ".join(title for _, title, _ in METRICS) + " | FER+ top-1 | vote share |",
             "|---|" + "---:|" * (len(METRICS) + 2),
             f"| float16 TFLite (`{Path(model.reference).name}`, parity reference) | "
             f"{_metric_cells(parity['reference'])} | {_ferplus_cells(parity['reference'])} |",
             f"| **int8 TFLite (`{model.name}`)** | {_metric_cells(evaluation)} | {_ferplus_cells(evaluation)} |"]
    counts = (evaluation.get("ferplus") or {}).get("counts")
    if counts:
        lines += ["", f"Top-1 and top-3 are against FER2013's labels ({evaluation['n']} faces); FER+ top-1 against "
                      f"the plurality of the ten FER+ annotators ({counts['scored']} faces; {counts['ties']} ties, "
                      f"{counts['non_emotion']} non-emotion pluralities and {counts['no_votes']} faces without votes "
                      "left out); vote share is the mean fraction of annotators who chose the predicted class."]
    return "\n".join(lines + ["", _source(model.evaluation, evaluation) + "<br>",
                              _source(model.parity, parity, parity["reference"])])


def parity_table(root: Path, model: ShippedModel) -> str:
    """A card or the README: the parity gate's checks, intervals and verdict."""
    parity = read(model.parity, root)
    ci = parity.get("ci95", {})

    def interval(key: str) -> str:
        return f" [95% CI {100 * ci[key][0]:+.2f}, {100 * ci[key][1]:+.2f}]" if key in ci else ""

    lines = ["| check | value | limit | result |", "|---|---:|---:|---|"]
    for c in parity["checks"]:
        lines.append(f"| {c['check']} | {c['value']:.4f} | {c['op']} {c['limit']} | {'PASS' if c['passed'] else 'FAIL'} |")
    lines += ["", f"int8 minus float16: top-1 {100 * parity['delta_top1']:+.2f} pp{interval('delta_top1')}, "
                  f"top-3 {100 * parity['delta_top3']:+.2f} pp{interval('delta_top3')}, MCC {parity['delta_mcc']:+.4f}, "
                  f"agreement {parity['agreement']:.4f}, McNemar p = {parity['mcnemar_p']:.2g}: "
                  f"**{'PASS' if parity['passed'] else 'FAIL'}**.", "",
              _source(model.parity, parity, parity["candidate"])]
    return "\n".join(lines)


APP_RUNTIMES, WEB_CROPS, IN_GRAPH_COST = (BENCH_REPORTS[name] for name in
                                          ("bench_mediapipe", "bench_web", "bench_canonical_input"))


def _bench_source(path: str, report: dict[str, Any]) -> str:
    models = ", ".join(f"`{name}` (sha256 {str(m.get('model_sha256'))[:12]})" for name, m in report["models"].items())
    return (f"<sub>From `{path}`: {models}; data `{report['data']}` [{report['split']}] (sha256 "
            f"{str(report.get('data_sha256'))[:12]}), `{report.get('command')}`, on {report.get('host_cpu')}.</sub>")


def _shipped_entries(path: str, report: dict[str, Any]):
    """The report's entry of every shipped model, in the registry's order; a model it lacks is an error."""
    for model in SHIPPED:
        if model.name not in report["models"]:
            raise TableError(f"{path}: no entry for the shipped model {model.name!r}")
        yield model, report["models"][model.name]


def app_runtimes_table(root: Path) -> str:
    """README: edgefer's answers against MediaPipe's ImageClassifier and the web page, per crop size."""
    mediapipe, page = read(APP_RUNTIMES, root), read(WEB_CROPS, root)
    lines = ["| model | crop | MediaPipe (Python) vs edgefer: top-1 agreement, mean \\|score difference\\| "
             "| the page (headless Chromium) vs `edgefer predict`: top-1 agreement, mean \\|score difference\\| |",
             "|---|---:|---|---|"]
    pages = dict(_shipped_entries(WEB_CROPS, page))
    for model, entry in _shipped_entries(APP_RUNTIMES, mediapipe):
        sizes = sorted({*map(int, entry["sizes"]), *map(int, pages[model]["sizes"])})
        for size in sizes:
            cells = []
            for measured in (entry["sizes"].get(str(size)), pages[model]["sizes"].get(str(size))):
                cells.append("-" if measured is None else
                             f"{measured['agreement']:.3f}, {measured['mean_abs_score_diff']:.4f}")
            network = " (the network's size)" if size == entry["network_size"] else ""
            lines.append(f"| `{model.name}` | {size} px{network} | {cells[0]} | {cells[1]} |")
    lines += ["", f"MediaPipe: {mediapipe['faces']} {mediapipe['split']} faces per size; the page: "
                  f"{page['faces']} faces per size.", "",
              _bench_source(APP_RUNTIMES, mediapipe) + "<br>", _bench_source(WEB_CROPS, page)]
    return "\n".join(lines)


IN_GRAPH_COLUMNS = ("shipped", "luma on single pixels", "pixel passes", "resize-then-luma", "network-size input")


def in_graph_cost_table(root: Path) -> str:
    """README: p50 of each graph of a network over the bare network's, and top-1 against Pillow-resized input."""
    report = read(IN_GRAPH_COST, root)
    lines = ["| model | network | " + " | ".join(IN_GRAPH_COLUMNS) + " |", "|---|---:|" + "---:|" * len(IN_GRAPH_COLUMNS)]
    for model, entry in _shipped_entries(IN_GRAPH_COST, report):
        cells = []
        for graph in IN_GRAPH_COLUMNS:
            measured = entry["graphs"].get(graph)
            if measured is None:
                cells.append("-")
                continue
            agreement = measured.get("top1_agreement_with_pillow_resized_input")
            cells.append(f"{measured['p50_vs_bare_network']:.3f}x" +
                         ("" if agreement is None else f" ({agreement:.3f})"))
        lines.append(f"| `{model.name}` | {entry['network_size']} px | " + " | ".join(cells) + " |")
    lines += ["", f"p50 of one invoke over the bare network's (1 thread; {report['rounds']} rounds x {report['repeat']} "
                  "invokes, graphs interleaved); in brackets, top-1 agreement on "
                  f"{report['faces']} faces with the network fed them resized by Pillow, as in training.", "",
              _bench_source(IN_GRAPH_COST, report)]
    return "\n".join(lines)


RUNTIME_LATENCY = "models/bench.json"  # edgefer bench --json


def latency_table(root: Path) -> str:
    """README: `edgefer bench` rows, per-face latency with preprocessing, one row per model and thread count."""
    rows = read(RUNTIME_LATENCY, root)
    lines = ["| model | input | threads | p50 ms | p90 ms | p99 ms | faces/s | size |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        shipped = SHIPPED_MODELS.get(row["model"])
        if shipped is not None and row.get("model_sha256") != shipped.sha256:
            raise TableError(f"{RUNTIME_LATENCY}: its {row['model']!r} rows time another file than the shipped one")
        name = f"`{row['model']}`" if shipped else f"`{row['path']}`"
        lines.append(f"| {name} | {row['dtype']} | {row['threads']} | {row['p50_ms']:.2f} | {row['p90_ms']:.2f} | "
                     f"{row['p99_ms']:.2f} | {row['faces_per_s']:.0f} | {row['size_bytes'] / 1e6:.2f} MB |")
    sources = sorted({(row.get("command"), row.get("host_cpu")) for row in rows}, key=str)
    files = ", ".join(dict.fromkeys(f"`{row['path']}` (sha256 {str(row.get('model_sha256'))[:12]})" for row in rows))
    lines += ["", f"<sub>From `{RUNTIME_LATENCY}`: {files}; " +
              "; ".join(f"`{command}` on {host}" for command, host in sources) + ".</sub>"]
    return "\n".join(lines)


PEERS, ROBUSTNESS = "models/bench_peers_publictest.json", "models/bench_robustness_publictest.json"


def peers_table(root: Path) -> str:
    """README: the shipped models and fer on clean faces, both label sets, camera shifts and latency."""
    peers, shifts = read(PEERS, root), read(ROBUSTNESS, root)
    lines = ["| model | size | top-1 | MCC | FER+ top-1 | vote share | mean top-1 under camera shifts "
             "| mean FER+ top-1 under shifts | p50 ms/face | p50 vs fer |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, entry in peers["models"].items():
        if name not in shifts["models"]:
            raise TableError(f"{ROBUSTNESS}: no entry for {name!r}, which {PEERS} has")
        shifted = shifts["models"][name]
        label = f"`{entry['shipped']}`" if entry.get("shipped") else name
        fp = entry.get("ferplus") or {}
        cells = ["-" if v is None else f"{v:.4f}" for v in
                 (entry["top1"], entry["mcc"], fp.get("top1"), fp.get("mean_vote_share"),
                  shifted["mean_top1_under_shift"], shifted.get("mean_ferplus_top1_under_shift"))]
        lines.append(f"| {label} | {entry['size_bytes'] / 1e6:.2f} MB | " + " | ".join(cells) +
                     f" | {entry['p50_ms']:.3f} | {entry['p50_vs_fer']:.2f}x |")
    timing = peers["timing"]
    lines += ["", f"{peers['split']}, {peers['n']} faces. Latency: a 48x48 face in, preprocessing included, "
                  f"{timing['threads']} thread, {timing['rounds']} rounds x {timing['calls_per_round']} calls per "
                  f"model interleaved (load average {timing['load_average_after']:.1f} after).", "",
              f"<sub>From `{PEERS}`: `{peers['command']}`, on {peers['host_cpu']}.</sub><br>",
              f"<sub>From `{ROBUSTNESS}`: `{shifts['command']}`, on {shifts.get('host_cpu')}.</sub>"]
    return "\n".join(lines)


TABLES: dict[str, Callable[..., str]] = {"shipped": shipped_table, "evaluation": evaluation_table,
                                         "parity": parity_table, "app-runtimes": app_runtimes_table,
                                         "in-graph-cost": in_graph_cost_table, "latency": latency_table,
                                         "peers": peers_table}


def render(spec: str, root: Path) -> str:
    kind, *names = spec.split()
    if kind not in TABLES:
        raise TableError(f"unknown table {kind!r} (known: {', '.join(TABLES)})")
    models = []
    for name in names:
        if name not in SHIPPED_MODELS:
            raise TableError(f"table {spec!r}: no shipped model is called {name!r}")
        models.append(SHIPPED_MODELS[name])
    return TABLES[kind](root, *models)


def rewrite(text: str, root: Path, where: str = "text") -> str:
    """The text with every marked table replaced by what its reports give now."""
    def replace(match: re.Match) -> str:
        try:
            body = render(match["spec"], root)
        except (TableError, TypeError) as exc:
            raise TableError(f"{where}: {exc}") from None
        return f"{match.group(1)}{body}\n{match.group(4)}"

    return REGION.sub(replace, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a table is stale")
    parser.add_argument("--root", default=str(REPOSITORY), help="the repository (where README.md and models/ are)")
    args = parser.parse_args(argv)
    root, stale = Path(args.root), []
    try:
        for name in DOCUMENTS:
            path = root / name
            text = path.read_text(encoding="utf-8")
            new = rewrite(text, root, name)
            if new != text:
                stale.append(name)
                if not args.check:
                    tmp = path.with_name(f".{path.name}.tmp")
                    tmp.write_text(new, encoding="utf-8")
                    tmp.replace(path)
    except TableError as exc:
        print(f"report_tables: error: {exc}", file=sys.stderr)
        return 2
    for name in stale:
        print(f"{name}: {'stale' if args.check else 'rewritten'}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
