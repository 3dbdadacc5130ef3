"""Re-run the committed reports of every shipped model (edgefer.runtime.zoo), then their tables.

For each model: `edgefer evaluate NAME` into its evaluation report and `edgefer parity
REFERENCE NAME` into its parity report (JSON and markdown), on PublicTest. The commands run
in a scratch folder that holds the data under its own file name and the repository's
models/ folder, so the reports record short, portable commands; the JSON and markdown are
then moved into models/ (the parity JSON without its per-face disagreements) and tools/report_tables.py rewrites the tables. Run it after a
shipped model changes (the registry's sha256 must name the new file first).

    python tools/shipped_reports.py ../shared/data/fer2013/fer2013-dev.csv.gz --votes ../shared/data/ferplus/fer2013new-dev.csv
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from edgefer.fileio import write_json
from edgefer.runtime.zoo import REPOSITORY, SHIPPED

SPLIT = "PublicTest"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="FER2013 CSV (.csv.gz) or .facepack with a PublicTest split")
    parser.add_argument("--votes", help="FER+ votes (fer2013new.csv) paired with the CSV: both label sets scored")
    args = parser.parse_args(argv)
    data = Path(args.data).resolve()
    votes = Path(args.votes).resolve() if args.votes else None
    edgefer = [sys.executable, "-m", "edgefer"]
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        (work / data.name).symlink_to(data)
        if votes:
            (work / votes.name).symlink_to(votes)
        (work / "models").mkdir()
        for model in SHIPPED:
            (work / model.reference).symlink_to(REPOSITORY / model.reference)
        for model in SHIPPED:
            common = ["--data", data.name, "--split", SPLIT, *(["--votes", votes.name] if votes else [])]
            subprocess.run([*edgefer, "evaluate", model.name, *common, "--json", model.evaluation], cwd=work, check=True)
            # Exit 1 is parity's FAIL: a verdict its report records, not a failed run.
            verdict = subprocess.run([*edgefer, "parity", model.reference, model.name, *common, "--json", model.parity],
                                     cwd=work)
            if verdict.returncode not in (0, 1):
                return verdict.returncode
        for model in SHIPPED:
            # Which faces disagree is per-face FER2013 data: it stays out of the repository.
            parity = json.loads((work / model.parity).read_text(encoding="utf-8"))
            parity.pop("disagreements")
            write_json(work / model.parity, parity)
            for report in (model.evaluation, model.parity, str(Path(model.parity).with_suffix(".md"))):
                shutil.move(work / report, REPOSITORY / report)
    return subprocess.run([sys.executable, str(REPOSITORY / "tools" / "report_tables.py")]).returncode


if __name__ == "__main__":
    sys.exit(main())
