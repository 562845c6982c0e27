#!/usr/bin/env python3
"""The Keras side of `make bench`: time training steps or forward passes of
the course's U-Net in Keras 3 on TensorFlow, on random data, and print one
JSON object like bench/torch_bench.py's.

  keras_bench.py --mode train|infer [--base 16] [--depth 5] [--size 128]
                 [--batch 16] [--threads 2] [--warmup 2] [--steps 5]

The network is tests/reference/unet_reference.py's, channels_last: per level
two Conv2D 3x3 "same" + ReLU, MaxPooling2D 2x2 between levels; up the other
side Conv2DTranspose 3x3 stride 2 "same", concatenation with the skip, two
Conv2D 3x3 + ReLU; a 1x1 Conv2D with sigmoid (Glorot-uniform weights and zero
biases, Keras' defaults). Training step: train_on_batch of a model compiled
with Adam (1e-3, betas 0.9/0.999, eps 1e-7) and binary cross-entropy, which
Keras computes from the sigmoid's logits. Inference: predict_on_batch. Both
run the compiled tf.function, without XLA (Keras' default on a CPU). Peak
memory is this process's ru_maxrss (so run one measurement per process).
Needs a Python with tensorflow and keras (bench/run's virtual environment).
"""
import json
import os
import sys

from steptime import parser, time_steps

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def unet(keras, base, depth, size):
    L = keras.layers
    x = inp = keras.Input((size, size, 3))
    skips = []
    for i in range(depth):
        if i > 0:
            x = L.MaxPooling2D(2)(x)
        for _ in range(2):
            x = L.Conv2D(base * 2 ** i, 3, padding="same", activation="relu")(x)
        skips.append(x)
    skips.pop()
    for i in range(depth - 2, -1, -1):
        x = L.Conv2DTranspose(base * 2 ** i, 3, strides=2, padding="same")(x)
        x = L.Concatenate()([x, skips.pop()])
        for _ in range(2):
            x = L.Conv2D(base * 2 ** i, 3, padding="same", activation="relu")(x)
    out = L.Conv2D(1, 1, activation="sigmoid")(x)
    return keras.Model(inp, out)


def main():
    p = parser(__doc__)
    a = p.parse_args()

    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(a.threads)
    import keras
    import numpy as np

    keras.utils.set_random_seed(a.seed)
    net = unet(keras, a.base, a.depth, a.size)
    rng = np.random.default_rng(a.seed)
    x = rng.random((a.batch, a.size, a.size, 3), dtype=np.float32)
    y = rng.integers(0, 2, (a.batch, a.size, a.size, 1)).astype(np.float32)

    if a.mode == "train":
        net.compile(optimizer=keras.optimizers.Adam(1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
                    loss="binary_crossentropy")

        def step():
            net.train_on_batch(x, y)
    else:
        def step():
            net.predict_on_batch(x)

    out = {
        "mode": a.mode, "layout": "channels_last", "base_filters": a.base, "depth": a.depth,
        "size": a.size, "batch": a.batch, "threads": a.threads,
        "keras": keras.__version__, "tensorflow": tf.__version__,
        "python": "%d.%d.%d" % sys.version_info[:3],
        "jit_compile": bool(getattr(net, "jit_compile", False)) if a.mode == "train" else False,
    }
    out.update(time_steps(step, a.warmup, a.steps, a.batch))
    print(json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    main()
