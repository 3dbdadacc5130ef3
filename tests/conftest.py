import importlib
import os
import threading
import time
from pathlib import Path

import pytest

# Tests import TensorFlow only through edgefer, which wants Keras 2; keep logs quiet.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# torch (with torchvision, which timm imports) crashes when loaded after TensorFlow in one
# process, so the tests that use both import it first.
try:
    import timm  # noqa: E402,F401
    import torch  # noqa: E402,F401
except ImportError:
    pass
from edgefer.synthetic import fer_csv  # noqa: E402


def missing_app_dependency(reason: str) -> None:
    """Skip for want of an app-runtime dependency (Chromium, an npm package, MediaPipe); under
    CI=true, where `make app-deps` installed them, their absence fails the run instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true, but {reason}", pytrace=False)
    pytest.skip(reason)


def import_app_dependency(name: str):
    """``pytest.importorskip``, except that under CI=true a missing module fails (see above)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        missing_app_dependency(f"{name} cannot be imported ({exc})")


HEARTBEAT_SECONDS = 60


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """A test, or the training fixture it waits for, can take minutes on a busy 2-core host:
    say which test is still running once a minute, so the run never looks hung."""
    reporter = item.config.pluginmanager.get_plugin("terminalreporter")
    capture = item.config.pluginmanager.get_plugin("capturemanager")
    started, done = time.monotonic(), threading.Event()

    def beat() -> None:
        while not done.wait(HEARTBEAT_SECONDS):
            # As pytest's own live logging writes from any thread: past the output capture.
            with capture.global_and_fixture_disabled():
                reporter.write_line(f"... still in {item.nodeid} ({time.monotonic() - started:.0f} s)")

    heartbeat = threading.Thread(target=beat, daemon=True)
    if reporter is not None and capture is not None:
        heartbeat.start()
    try:
        yield
    finally:
        done.set()


def has_tensorflow() -> bool:
    try:
        import tensorflow  # noqa: F401
        import tf_keras  # noqa: F401
    except ImportError:
        return False
    return True


requires_tf = pytest.mark.skipif(not has_tensorflow(), reason="needs the train extra (TensorFlow)")


@pytest.fixture(scope="session")
def synthetic_csv(tmp_path_factory) -> Path:
    return fer_csv(tmp_path_factory.mktemp("data") / "fer.csv")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, synthetic_csv) -> Path:
    """A real run directory: the tiny preset trained on synthetic faces."""
    if not has_tensorflow():
        pytest.skip("needs the train extra (TensorFlow)")
    from edgefer.training import AugmentConfig, preset, train

    out = tmp_path_factory.mktemp("runs") / "tiny"
    # Flips only: the synthetic classes differ by the height of a band, which shifts
    # and zooms would blur within four short epochs.
    flips = AugmentConfig(rotation_deg=0, zoom=0, shift=0, brightness=0, contrast=0)
    train(preset("tiny", data=str(synthetic_csv), out=str(out), epochs=4, augment=flips, verbose=0))
    return out
