"""Every model family edgefer trains goes through quantize-aware training.

Annotate + apply + one training step is what breaks when a family brings a layer tfmot
does not know (Rescaling, Normalization, the squeeze-excite Multiply); conversion is
covered on the tiny model in test_export.py. Models are built at 32 px, the smallest
the Keras applications accept.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import requires_tf

from edgefer.families import list_families

pytestmark = requires_tf

# The smallest member of each series runs in the quick suite (pytest -m "not slow");
# the larger ones add depth and width, not new layer types. All 17 together take
# about 8 minutes on two busy cores, b7 alone over a minute.
QUICK = ("b0", "v2-b0", "lite0")
PARAMS = [pytest.param(f, marks=() if f in QUICK else pytest.mark.slow) for f in list_families()]


@pytest.fixture(autouse=True)
def fresh_keras_session():
    from edgefer.training.keras_env import keras

    keras.backend.clear_session()
    yield


@pytest.mark.parametrize("family", PARAMS)
def test_family_quantize_aware_training_step(family):
    from edgefer.export.qat import quantize_model
    from edgefer.training.keras_env import keras, tf
    from edgefer.training.keras_models import build_model, logits_model

    model = logits_model(build_model(family, 32, "none"))
    qat = quantize_model(model)
    wrapped = [layer for layer in qat.layers if isinstance(layer, keras.layers.Wrapper)]
    assert len(wrapped) > 10
    if not family.startswith("lite"):
        # The layers tfmot has no config for are quantized at their output, not skipped.
        inner = {type(layer.layer).__name__ for layer in wrapped}
        assert "Multiply" in inner and "Rescaling" in inner
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype(np.float32)
    y = tf.one_hot([0, 3], 7)
    optimizer = keras.optimizers.Adam(1e-5)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.categorical_crossentropy(y, qat(x, training=True), from_logits=True))
    grads = tape.gradient(loss, qat.trainable_variables)
    optimizer.apply_gradients(zip(grads, qat.trainable_variables))
    assert np.isfinite(float(loss))
    assert all(g is not None for g in grads)


def test_a_family_is_one_registration():
    """A registered builder is all the Keras engine, the weights parser and the help texts need."""
    from edgefer.errors import ConfigError
    from edgefer.families import FAMILIES, names_text, register_family
    from edgefer.training.keras_models import build_model
    from edgefer.training.pretrained import parse_weights

    @register_family("toy0", "tf_toy0", 64, mean=127.0, std=128.0)
    def toy_backbone(family, inputs, drop_connect_rate, download_imagenet):
        from edgefer.training.keras_env import keras

        x = keras.layers.Conv2D(8, 3, 2, padding="same", use_bias=False, name="stem_conv")(inputs)
        return keras.layers.BatchNormalization(name="stem_bn")(x)

    try:
        assert names_text(list_families()).endswith("lite0..lite4, toy0")
        model = build_model("toy0", 48, "none")
        assert model.output_shape == (None, 7) and model.get_layer("stem_conv").filters == 8
        assert model.input_shape == (None, 48, 48, 3)
        with pytest.raises(ConfigError, match="no offline ImageNet weights for toy0"):
            parse_weights("imagenet", "toy0", "keras")
        with pytest.raises(ValueError, match="registered twice"):
            register_family("toy0", "tf_toy0", 64)(toy_backbone)
    finally:
        del FAMILIES["toy0"]
