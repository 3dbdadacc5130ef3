"""``edgefer export``: a trained float model -> self-describing TFLite files and a report.

For int8 both post-training quantization (PTQ) and quantize-aware fine-tuning (QAT)
are measured on the validation faces and the better one is kept: QAT costs minutes
and a short or label-only one can do worse than PTQ, so neither is assumed.

Each format is converted as the logits model (softmax removed), and its temperature T
is fitted on its own validation logits, because quantization (and QAT's weight updates)
change the logit scale the float model's temperature was fitted to. The written file
then gets, in its graph, an RGB-to-luminance step in front and softmax(logits / T) at
the end (edgefer.export.graph), and the standard TFLite Metadata beside edgefer's own
record (edgefer.export.tflite_metadata), so MediaPipe Tasks and the like load it as is.

Nothing is written until every file has been converted, audited and (for int8)
passed the parity gate; a failed gate leaves only the report behind.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import __version__
from ..data import FaceDataset, stratified_split, train_val
from ..errors import ConfigError, ModelError
from ..fileio import keep_written, remove_file, write_bytes, write_json
from ..inference import MemoPredictor, Predictor, logits
from ..metadata import embed_model_info
from ..outputs import Input, Output, plan_outputs
from ..parity import compare
from ..preprocessing import model_input, resize_faces
from ..runtime.predictor import TFLitePredictor
from ..scoring import score
from ..training.config import AugmentConfig, TrainConfig
from ..training.keras_env import keras
from ..training.keras_models import logits_model
from ..training.keras_predictor import KerasPredictor, load_run_model
from ..training.pipeline import make_dataset
from ..training.recipe import class_weight_vector, fine_tune_recipe
from ..training.targets import check_source, selection_labels, training_targets
from ..training.rundir import Run, load_run, run_input
from .audit import audit, require_full_integer
from .config import ExportConfig
from .convert import convert, representative_data
from .formats import FORMATS, QAT_WEIGHTS_FILE, REPORT_FILE, model_file_name
from .graph import app_graph_info, for_app_runtimes
from .qat import (
    QatSchedule,
    calibrate_ranges,
    fine_tune,
    quantize_model,
    save_qat_weights,
)
from .temperature import temperature_report
from .tflite_metadata import stamp

log = logging.getLogger(__name__)

SUMMARY_KEYS = ("top1", "top3", "mcc", "ece", "log_loss")


@dataclass
class DataSettings:
    path: str
    train_split: str
    val_split: str
    val_fraction: float
    seed: int
    class_weights: str
    label_smoothing: float
    augment: AugmentConfig
    votes: str
    labels: str  # the run's label source (edgefer.training.targets): QAT fine-tunes on the same targets
    votes_weight: float


def _data_settings(config: ExportConfig, run: Run) -> DataSettings | None:
    trained = run.config or TrainConfig()
    data = config.data
    if not data and run.config and run.config.data:
        data = run.config.data
        if not Path(data).exists():
            raise ConfigError(f"the run's training data {data} is not here; pass --data")
    if not data:
        return None
    recipe = fine_tune_recipe(run.config)
    same_data = not config.data or (run.config is not None and config.data == run.config.data)
    return DataSettings(
        path=data,
        train_split=config.train_split or trained.train_split,
        val_split=config.val_split or trained.val_split,
        val_fraction=config.val_fraction or trained.val_fraction,
        seed=config.seed if config.seed >= 0 else trained.seed,
        class_weights=recipe.class_weights,
        label_smoothing=recipe.label_smoothing,
        augment=recipe.augment,
        votes=config.votes or (trained.votes if same_data else ""),
        labels=trained.labels,
        votes_weight=trained.votes_weight,
    )


def calibration_faces(train: FaceDataset, size: int, seed: int) -> FaceDataset:
    """A class-stratified, seeded sample of the training faces for int8 calibration."""
    if size >= len(train):
        return train
    return stratified_split(train, size / len(train), seed)[1]


@dataclass
class Int8Candidate:
    """One int8 model (PTQ or QAT) and how it compares with the float reference."""

    name: str
    blob: bytes
    predictor: Predictor
    seconds: float
    summary: dict[str, Any] | None = None

    def score_against(self, parity_report: dict[str, Any]) -> None:
        cand = parity_report["candidate"]
        self.summary = {
            "top1": cand["top1"], "top3": cand["top3"], "mcc": cand["mcc"], "agreement": parity_report["agreement"],
            "delta_top1": parity_report["delta_top1"], "delta_mcc": parity_report["delta_mcc"],
            "parity_passed": parity_report["passed"], "seconds": self.seconds, "bytes": len(self.blob),
        }
        if "ferplus" in cand:
            self.summary["ferplus_top1"] = cand["ferplus"]["top1"]


def choose_int8(candidates: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """The candidate to ship and why: passing parity first, then agreement with float, top-1, MCC.

    Agreement leads because the int8 model's job is to reproduce the float model that
    was validated; ties keep the earlier candidate (PTQ), the one with fewer moving parts.
    """
    def key(name: str) -> tuple:
        c = candidates[name]
        return (c["parity_passed"], round(c["agreement"], 4), round(c["top1"], 4), round(c["mcc"], 4))

    best = max(candidates, key=key)
    others = [n for n in candidates if n != best]
    if not others:
        return best, f"{best}: the only candidate"
    parts = [f"{best}: agreement with float {candidates[best]['agreement']:.4f}, top-1 "
             f"{candidates[best]['top1']:.4f}, MCC {candidates[best]['mcc']:.4f}"]
    for other in others:
        c = candidates[other]
        tie = key(other)[:2] == key(best)[:2]
        parts.append(f"{other}: {c['agreement']:.4f} / {c['top1']:.4f} / {c['mcc']:.4f}"
                     + (" (tied on agreement)" if tie else ""))
    return best, "; ".join(parts)


class _Exporter:
    def __init__(self, config: ExportConfig) -> None:
        config.validate()
        self.config = config
        self.trained = load_run(config.model)
        default_out = (self.trained.run_dir or self.trained.model_file.parent) / "export"
        self.out = Path(config.out) if config.out else default_out
        # Before the model loads: a typo costs nothing.
        plan_outputs([Output("--out", self.out, folder=True)],
                     [run_input("MODEL", self.trained.model_file), Input("--data", config.data),
                      Input("--votes", config.votes)])
        self.model = load_run_model(self.trained)  # the float Keras model (a torch run's Keras twin)
        self.settings = _data_settings(config, self.trained)
        if any(FORMATS[f].needs_calibration for f in config.formats) and self.settings is None:
            raise ConfigError("int8 export needs training faces to calibrate on: pass --data")
        self.spec = self.trained.info.preprocess
        # What every predictor here produces: the logits model's raw output, at T = 1.
        self.logits_info = replace(self.trained.info, output="logits", temperature=1.0)
        self.float_logits = logits_model(self.model)
        self.reference: MemoPredictor | None = None
        self.train: FaceDataset | None = None
        self.val: FaceDataset | None = None
        self.qat_model = None

    # -- data ---------------------------------------------------------------------------
    def load_data(self) -> None:
        s = self.settings
        if s is None:
            return
        self.train, self.val = train_val(s.path, s.train_split, s.val_split, s.val_fraction, s.seed,
                                         self.config.skip_bad, s.votes or None)
        check_source(self.train, s.labels)
        self.reference = MemoPredictor(
            KerasPredictor.from_model(self.model, copy.deepcopy(self.logits_info), str(self.trained.model_file)))
        log.info("data: %d training faces, %d validation faces (%s)", len(self.train), len(self.val), self.val.split)

    def candidate_predictor(self, blob: bytes, name: str) -> TFLitePredictor:
        """Converted bytes not written yet, run by the device runtime with the logits metadata."""
        return TFLitePredictor(embed_model_info(blob, self.logits_info), name=name)

    def compare(self, candidate: Predictor, bootstrap: int = 0) -> dict[str, Any]:
        # The single call site of the parity check, for candidates and for the final gate.
        return compare(self.reference, candidate, self.val, self.config.thresholds, bootstrap=bootstrap,
                       seed=max(self.settings.seed, 0))

    # -- int8 ---------------------------------------------------------------------------
    def int8_candidates(self, fmt: str) -> tuple[list[Int8Candidate], list[dict[str, float]]]:
        """PTQ and (unless --no-qat) QAT models in the full-integer format `fmt`, scored against the float reference."""
        cfg, s = self.config, self.settings
        cal = calibration_faces(self.train, cfg.calibration_size, s.seed)
        log.info("calibrating int8 on %d training faces (stratified, seed %d)", len(cal), s.seed)
        rep = representative_data(model_input(cal.images, self.spec))
        started = time.time()
        log.info("int8 PTQ: converting, the calibration faces setting each tensor's range")
        candidates = [self._scored(self._candidate("ptq", convert(self.float_logits, fmt, rep, cfg.io), started))]
        history: list[dict[str, float]] = []
        if cfg.qat:
            if not candidates[0].summary["parity_passed"] and cfg.parity_gate:  # known before the long step
                log.warning("edgefer: warning: PTQ int8 fails parity with the float model; QAT may recover it, "
                            "else the gate fails at the end (a float model near chance, e.g. after head-only "
                            "epochs, rarely survives int8: train longer first)")
            started = time.time()
            self.qat_model, history = self.run_qat(cal)
            log.info("int8 QAT: converting (%.0f s into QAT)", time.time() - started)
            candidates.append(self._scored(self._candidate("qat", convert(self.qat_model, fmt, rep, cfg.io),
                                                           started)))
        return candidates, history

    def _scored(self, cand: Int8Candidate) -> Int8Candidate:
        log.info("int8 %s: converted (%.0f s into this candidate); scoring it against the float model on %d %s faces",
                 cand.name.upper(), cand.seconds, len(self.val), self.val.split)
        started = time.time()
        cand.score_against(self.compare(cand.predictor))
        c = cand.summary
        log.info("int8 %s on %s: top-1 %.4f, MCC %.4f, agreement with float %.4f (parity %s; %.0f s)",
                 cand.name.upper(), self.val.split, c["top1"], c["mcc"], c["agreement"],
                 "passes" if c["parity_passed"] else "fails", time.time() - started)
        return cand

    def _candidate(self, name: str, blob: bytes, started: float) -> Int8Candidate:
        predictor = MemoPredictor(self.candidate_predictor(blob, f"int8-{name}"))
        return Int8Candidate(name, blob, predictor, time.time() - started)

    def run_qat(self, cal: FaceDataset) -> tuple[Any, list[dict[str, float]]]:
        """The QAT model: ranges from the calibration faces, then fine-tuned on the training faces."""
        cfg, s = self.config, self.settings
        targets = training_targets(self.train, s.labels, s.votes_weight)
        x = resize_faces(self.train.images[targets.keep], self.spec.input_size)
        weights = targets.soft @ class_weight_vector(targets.hard, s.class_weights)
        batches = make_dataset(x, targets.soft, self.spec, cfg.batch_size, training=True, seed=s.seed,
                               sample_weights=weights, augment=s.augment)
        schedule = QatSchedule.from_config(cfg, steps_per_epoch=max(1, len(x) // cfg.batch_size),
                                           label_smoothing=s.label_smoothing)
        keras.utils.set_random_seed(s.seed)
        log.info("QAT: %d steps of %d faces at lr %g, distillation weight %g; BatchNorm frozen from step %d, "
                 "ranges from step %d", schedule.total_steps, cfg.batch_size, cfg.qat_lr, cfg.qat_distill,
                 schedule.bn_freeze_step + 1, schedule.range_freeze_step + 1)
        started = time.time()
        qat_model = quantize_model(self.float_logits)
        cal_x = model_input(cal.images, self.spec)
        log.info("QAT: calibrating the fake-quantization ranges on %d faces", len(cal_x))
        calibrate_ranges(qat_model, self.float_logits,
                         (cal_x[i : i + cfg.batch_size] for i in range(0, len(cal_x), cfg.batch_size)))
        log.info("QAT: ranges calibrated (%.0f s); fine-tuning", time.time() - started)

        def progress(epoch: int, epochs: int, steps: int, loss: float, frozen: bool) -> None:
            log.info("QAT epoch %d/%d: %d steps, loss %.4f%s, %.0f s into QAT", epoch, epochs, steps, loss,
                     " (ranges frozen)" if frozen else "", time.time() - started)

        return qat_model, fine_tune(qat_model, batches, schedule, progress, teacher=self.float_logits)

    # -- every format -------------------------------------------------------------------
    def finish(self, fmt: str, blob: bytes, quantization: str,
               predictor: Predictor | None = None) -> tuple[bytes, dict[str, Any]]:
        """Temperature, embedded ModelInfo and audit of one converted model (`predictor` runs `blob`)."""
        entry: dict[str, Any] = {"quantization": quantization}
        temperature = 1.0
        if self.val is not None:
            predictor = predictor or self.candidate_predictor(blob, fmt)
            val_logits = logits(predictor, self.val.images)
            y = selection_labels(self.val, self.settings.labels)  # the labels the run learnt
            entry["temperature_fit"] = temperature_report(val_logits[y >= 0], y[y >= 0])
            temperature = entry["temperature_fit"]["temperature"]
            c = entry["temperature_fit"]
            log.info("%s: temperature %.3f, ECE %.4f -> %.4f", fmt, temperature, c["ece_before"], c["ece_after"])
        source = {**self.trained.info.source, "model": str(self.trained.model_file), "quantization": quantization,
                  "format": fmt}
        if self.trained.run_dir:
            source["run"] = str(self.trained.run_dir)
        if FORMATS[fmt].full_integer:
            source["io"] = self.config.io
        info = replace(self.trained.info, edgefer_version=__version__, source=source)
        # RGB in, softmax(logits / T) out, and the standard metadata: what app runtimes load.
        blob = stamp(embed_model_info(for_app_runtimes(blob, info.preprocess, temperature),
                                      app_graph_info(info, temperature)))
        entry["temperature"] = temperature
        entry["audit"] = audit(blob, float_io=not FORMATS[fmt].full_integer or self.config.io == "float32")
        return blob, entry

    def run(self) -> dict[str, Any]:
        cfg = self.config
        report: dict[str, Any] = {
            "edgefer_version": __version__, "model": str(self.trained.model_file),
            "run_dir": str(self.trained.run_dir) if self.trained.run_dir else None,
            "out": str(self.out), "config": cfg.to_dict(), "data": None, "reference": None,
            "formats": {}, "parity": None, "passed": False, "failure": None,
        }
        try:
            files = self.convert_all(report)
            failure = self.gate(files, report)
        except BaseException as exc:  # a failed step leaves its report (the CLI then undoes what the command wrote)
            self.write_failure(report, f"{exc.__class__.__name__}: {exc}")
            raise
        if failure:
            self.write_failure(report, failure)
            keep_written(self.out)  # a verdict, not a crash: its report stays for the user to read
            raise ModelError(f"{failure}; nothing exported (report: {self.out / REPORT_FILE})")
        for fmt, blob in files.items():
            write_bytes(self.out / model_file_name(fmt), blob)
        if self.qat_model is not None:
            save_qat_weights(self.qat_model, self.out / QAT_WEIGHTS_FILE)
            report["qat_weights"] = QAT_WEIGHTS_FILE
        report["passed"] = True
        write_json(self.out / REPORT_FILE, report)
        return report

    def write_failure(self, report: dict[str, Any], failure: str) -> None:
        """The failure report, without the models of an earlier export that it does not describe."""
        report["failure"] = failure
        for stale in [*(model_file_name(fmt) for fmt in FORMATS), QAT_WEIGHTS_FILE]:
            remove_file(self.out / stale)
        write_json(self.out / REPORT_FILE, report)

    def convert_all(self, report: dict[str, Any]) -> dict[str, bytes]:
        cfg = self.config
        self.load_data()
        if self.val is not None:
            ref_report, _ = score(self.reference, self.val)
            report["reference"] = {k: ref_report[k] for k in SUMMARY_KEYS}
            if "ferplus" in ref_report:
                report["reference"]["ferplus"] = ref_report["ferplus"]
            report["data"] = {"path": self.settings.path, "train_faces": len(self.train),
                              "val_faces": len(self.val), "val_split": self.val.split,
                              "calibration_faces": min(cfg.calibration_size, len(self.train))}
        files: dict[str, bytes] = {}
        for n, fmt in enumerate(cfg.formats, 1):
            log.info("[%d/%d] %s: %s", n, len(cfg.formats), fmt, FORMATS[fmt].description)
            started = time.time()
            if FORMATS[fmt].full_integer:
                candidates, history = self.int8_candidates(fmt)
                chosen, reason = choose_int8({c.name: c.summary for c in candidates})
                log.info("int8: keeping %s (%s)", chosen.upper(), reason)
                report["int8"] = {"candidates": {c.name: c.summary for c in candidates}, "chosen": chosen,
                                  "reason": reason, "qat_history": history}
                best = next(c for c in candidates if c.name == chosen)
                blob, entry = self.finish(fmt, best.blob, f"int8-{chosen}", best.predictor)
            else:
                blob, entry = self.finish(fmt, convert(self.float_logits, fmt), fmt)
            entry.update(file=model_file_name(fmt), bytes=len(blob), seconds=time.time() - started)
            log.info("[%d/%d] %s: done in %.0f s", n, len(cfg.formats), fmt, entry["seconds"])
            report["formats"][fmt] = entry
            files[fmt] = blob
        return files

    def gate(self, files: dict[str, bytes], report: dict[str, Any]) -> str | None:
        """Full-integer audit and parity of each gated file; the failure message, or None."""
        for fmt in (f for f in files if FORMATS[f].gated):
            try:
                require_full_integer(report["formats"][fmt]["audit"], self.config.allow_float_ops)
            except ModelError as exc:
                return str(exc)
            # The written bytes, with their own metadata: what a device will run.
            parity = self.compare(TFLitePredictor(files[fmt], name=model_file_name(fmt)), bootstrap=1000)
            report["parity"] = parity
            log.info("parity (float vs %s): agreement %.4f, top-1 %+.2f pp, MCC %+.4f: %s", fmt,
                     parity["agreement"], 100 * parity["delta_top1"], parity["delta_mcc"],
                     "PASS" if parity["passed"] else "FAIL")
            if not parity["passed"] and self.config.parity_gate:
                failed = ", ".join(f"{c['check']} {c['value']:.4f} (limit {c['op']} {c['limit']})"
                                   for c in parity["checks"] if not c["passed"])
                return f"{fmt} parity with the float model failed: {failed}; use --no-parity-gate to export anyway"
        return None


def export(config: ExportConfig) -> dict[str, Any]:
    """Convert, audit, fit temperatures and gate; write the TFLite files and the JSON report."""
    return _Exporter(config).run()
