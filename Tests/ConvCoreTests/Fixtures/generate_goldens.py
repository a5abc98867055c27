#!/usr/bin/env python3
"""Generates the golden fixtures the ConvCore tests compare against: Keras 3 on the JAX backend
is the oracle for Keras layer semantics.

Run once by hand in a throwaway virtualenv (the test suite never needs Keras):

    python3 -m venv /tmp/kvenv && /tmp/kvenv/bin/pip install keras jax jaxlib safetensors numpy
    KERAS_BACKEND=jax /tmp/kvenv/bin/python Tests/ConvCoreTests/Fixtures/generate_goldens.py

For every case it writes into golden/:
  <case>.safetensors         the model file: random weights, the Tessera spec in the metadata
  <case>.input.npy           a random input batch
  <case>.output.npy          Keras' output in inference mode
  <case>.train_output.npy    (cases with training=True) Keras' output in training mode
  <case>.train_state.safetensors  BatchNormalization moving statistics after that training call
"""
import json
import os
import sys
import zlib

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")

# Tessera's colour layers, written with Keras ops (HSV is keras.ops.image's own definition).
YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
COLOUR = {
    "RGBToHSV": lambda t: keras.ops.image.rgb_to_hsv(t),
    "HSVToRGB": lambda t: keras.ops.image.hsv_to_rgb(t),
    "RGBToYCbCr": lambda t: keras.ops.matmul(t, keras.ops.convert_to_tensor(YCC.T.astype("float32")))
    + keras.ops.convert_to_tensor(np.array([0, 0.5, 0.5], "float32")),
    "YCbCrToRGB": lambda t: keras.ops.matmul(
        t - keras.ops.convert_to_tensor(np.array([0, 0.5, 0.5], "float32")),
        keras.ops.convert_to_tensor(np.linalg.inv(YCC).T.astype("float32"))),
    "RGBToLuminance": lambda t: keras.ops.matmul(t, keras.ops.convert_to_tensor(YCC[:1].T.astype("float32"))),
}
MULTI_INPUT = {"Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}


def build(spec):
    inp = spec["input"]
    x = keras.Input(shape=tuple(inp["shape"]), name=inp["name"])
    tensors, prev = {inp["name"]: x}, inp["name"]
    for entry in spec["layers"]:
        name, kind = entry["name"], entry["type"]
        args = {k: v for k, v in entry.items() if k not in ("name", "type", "inputs")}
        if kind in COLOUR:
            layer = keras.layers.Lambda(COLOUR[kind], name=name)
        else:
            layer = getattr(keras.layers, kind)(name=name, **args)
        ins = [tensors[n] for n in entry.get("inputs", [prev])]
        tensors[name] = layer(ins if kind in MULTI_INPUT else ins[0])
        prev = name
    outputs = spec.get("outputs", [prev])
    return keras.Model(x, [tensors[o] for o in outputs] if len(outputs) > 1 else tensors[outputs[0]])


def randomize(model, rng):
    """Random weights of a sensible scale (biases and BN statistics non-trivial too)."""
    named = {}
    for layer in model.layers:
        for w in layer.weights:
            shape = tuple(w.shape)
            if w.name == "kernel":
                fan_in = int(np.prod(shape[:-1])) if len(shape) != 4 or "Transpose" not in type(layer).__name__ \
                    else int(np.prod(shape[:2]) * shape[3])
                value = rng.uniform(-1, 1, shape) * np.sqrt(3.0 / max(fan_in, 1))
            elif w.name == "gamma":
                value = rng.uniform(0.5, 1.5, shape)
            elif w.name == "moving_variance":
                value = rng.uniform(0.5, 2.0, shape)
            else:  # bias, beta, moving_mean
                value = rng.uniform(-0.5, 0.5, shape)
            value = value.astype("float32")
            w.assign(value)
            named[f"{layer.name}.{w.name}"] = value
    return named


def case(name, spec, batch=2, low=0.0, high=1.0, training=False):
    spec = {"name": name, **spec}
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    model = build(spec)
    weights = randomize(model, rng)
    shape = (batch,) + tuple(spec["input"]["shape"])
    x = rng.uniform(low, high, shape).astype("float32")
    base = os.path.join(OUT, name)
    save_file(weights, base + ".safetensors", metadata={"tessera.spec": json.dumps(spec)})
    np.save(base + ".input.npy", x)
    np.save(base + ".output.npy", np.asarray(model(x, training=False)).astype("float32"))
    if training:
        np.save(base + ".train_output.npy", np.asarray(model(x, training=True)).astype("float32"))
        state = {f"{l.name}.{w.name}": np.asarray(w.value).astype("float32")
                 for l in model.layers for w in l.weights if w.name.startswith("moving_")}
        save_file(state, base + ".train_state.safetensors")
    print(f"{name}: {shape} -> {tuple(model.output.shape)}")


def inp(h, w, c):
    return {"name": "input", "shape": [h, w, c]}


def one(layer, **kw):
    return {"layers": [dict(name="l", **layer)], **kw}


def main():
    os.makedirs(OUT, exist_ok=True)
    keras.utils.set_random_seed(1)
    conv = lambda **a: one(dict(type="Conv2D", **a))  # noqa: E731
    case("conv2d_same_relu", {"input": inp(7, 9, 3), **conv(filters=4, kernel_size=3, padding="same", activation="relu")})
    case("conv2d_valid_stride2", {"input": inp(9, 11, 3), **conv(filters=5, kernel_size=[5, 3], strides=2, activation="tanh")})
    case("conv2d_same_stride2_odd", {"input": inp(9, 10, 2), **conv(filters=3, kernel_size=3, strides=2, padding="same", activation="sigmoid")})
    case("conv2d_7x7_strides_1_2", {"input": inp(12, 12, 1), **conv(filters=2, kernel_size=7, strides=[1, 2], padding="same", activation="softplus")})
    case("conv2d_1x1_nobias", {"input": inp(5, 6, 8), **conv(filters=3, kernel_size=1, use_bias=False, activation="leaky_relu")}, low=-1)
    case("conv2d_k4_stride3_same", {"input": inp(11, 13, 3), **conv(filters=4, kernel_size=4, strides=3, padding="same")})

    deconv = lambda **a: one(dict(type="Conv2DTranspose", **a))  # noqa: E731
    case("deconv_k3_s2_same", {"input": inp(5, 6, 3), **deconv(filters=4, kernel_size=3, strides=2, padding="same")})
    case("deconv_k3_s2_valid", {"input": inp(5, 6, 3), **deconv(filters=4, kernel_size=3, strides=2, activation="relu")}, low=-1)
    case("deconv_k4_s2_same", {"input": inp(4, 5, 2), **deconv(filters=3, kernel_size=4, strides=2, padding="same")})
    case("deconv_k2_s2_valid", {"input": inp(4, 5, 2), **deconv(filters=3, kernel_size=2, strides=2)})
    case("deconv_k1_s2_valid", {"input": inp(4, 5, 2), **deconv(filters=3, kernel_size=1, strides=2)})
    case("deconv_k1_s2_same", {"input": inp(4, 5, 2), **deconv(filters=3, kernel_size=1, strides=2, padding="same")})
    case("deconv_k5_s3_same", {"input": inp(3, 4, 2), **deconv(filters=2, kernel_size=5, strides=3, padding="same", use_bias=False)})
    case("deconv_k3x2_s1_same", {"input": inp(5, 6, 3), **deconv(filters=2, kernel_size=[3, 2], padding="same", activation="tanh")})

    case("dense_per_pixel", {"input": inp(4, 5, 3), **one(dict(type="Dense", units=3, activation="relu"))}, low=-1)
    case("flatten_dense", {"input": inp(4, 4, 2), "layers": [
        {"name": "f", "type": "Flatten"}, {"name": "d1", "type": "Dense", "units": 5, "activation": "sigmoid"},
        {"name": "d2", "type": "Dense", "units": 2}]})
    case("reshape_dense", {"input": inp(4, 4, 2), "layers": [
        {"name": "r", "type": "Reshape", "target_shape": [8, 4]}, {"name": "d", "type": "Dense", "units": 3}]})

    case("maxpool_valid", {"input": inp(7, 9, 3), **one(dict(type="MaxPooling2D"))})
    case("maxpool_same_3s2", {"input": inp(7, 8, 3), **one(dict(type="MaxPooling2D", pool_size=3, strides=2, padding="same"))}, low=-1, high=0)
    case("avgpool_valid_2x3", {"input": inp(7, 9, 3), **one(dict(type="AveragePooling2D", pool_size=[2, 3]))})
    case("avgpool_same_3s2", {"input": inp(7, 8, 3), **one(dict(type="AveragePooling2D", pool_size=3, strides=2, padding="same"))})
    case("global_max", {"input": inp(5, 6, 4), **one(dict(type="GlobalMaxPooling2D"))}, low=-1)
    case("global_avg", {"input": inp(5, 6, 4), **one(dict(type="GlobalAveragePooling2D"))})
    case("global_avg_keepdims", {"input": inp(5, 6, 4), **one(dict(type="GlobalAveragePooling2D", keepdims=True))})

    case("batchnorm", {"input": inp(4, 5, 6), **one(dict(type="BatchNormalization"))}, low=-2, high=3, batch=3, training=True)
    case("batchnorm_nocenter_momentum", {"input": inp(4, 5, 3), **one(dict(type="BatchNormalization", center=False, momentum=0.9, epsilon=0.01))}, training=True)
    case("dropout_inference", {"input": inp(4, 5, 3), **one(dict(type="Dropout", rate=0.5))})

    branches = [
        {"name": "a", "type": "Conv2D", "filters": 4, "kernel_size": 1, "inputs": ["input"]},
        {"name": "b", "type": "Conv2D", "filters": 4, "kernel_size": 1, "inputs": ["input"]},
    ]
    merges = [{"name": t.lower(), "type": t, "inputs": ["a", "b"]}
              for t in ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]]
    case("merges", {"input": inp(4, 5, 3), "layers": branches + merges + [
        {"name": "cat", "type": "Concatenate", "inputs": [m["name"] for m in merges] + ["input"]}]}, low=-1)
    case("merges_three_inputs", {"input": inp(4, 5, 3), "layers": branches + [
        {"name": "c", "type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same", "inputs": ["input"]},
        {"name": "sum", "type": "Add", "inputs": ["a", "b", "c"]},
        {"name": "avg", "type": "Average", "inputs": ["a", "b", "c"]},
        {"name": "max", "type": "Maximum", "inputs": ["a", "b", "c"]},
        {"name": "cat", "type": "Concatenate", "inputs": ["sum", "avg", "max"]}]}, low=-1)
    case("concat_height", {"input": inp(4, 5, 3), "layers": branches + [
        {"name": "cat", "type": "Concatenate", "axis": 1, "inputs": ["a", "b"]}]})

    case("cropping_asym", {"input": inp(9, 10, 2), **one(dict(type="Cropping2D", cropping=[[1, 2], [0, 3]]))})
    case("cropping_hw", {"input": inp(9, 10, 2), **one(dict(type="Cropping2D", cropping=[2, 1]))})
    case("zeropadding_asym", {"input": inp(4, 5, 2), **one(dict(type="ZeroPadding2D", padding=[[1, 0], [2, 3]]))})
    case("upsampling_nearest_2x3", {"input": inp(3, 4, 2), **one(dict(type="UpSampling2D", size=[2, 3]))})
    case("upsampling_bilinear", {"input": inp(3, 4, 2), **one(dict(type="UpSampling2D", interpolation="bilinear"))})
    case("upsampling_bilinear_3", {"input": inp(3, 4, 2), **one(dict(type="UpSampling2D", size=3, interpolation="bilinear"))})

    for act in ["linear", "relu", "leaky_relu", "sigmoid", "tanh", "softplus"]:
        case(f"activation_{act}", {"input": inp(4, 5, 3), **one(dict(type="Activation", activation=act))}, low=-4, high=4)

    for kind, low, high in [("RGBToHSV", 0, 1), ("HSVToRGB", 0, 1), ("RGBToYCbCr", 0, 1),
                            ("YCbCrToRGB", 0, 1), ("RGBToLuminance", 0, 1)]:
        case(f"colour_{kind}", {"input": inp(6, 7, 3), **one(dict(type=kind))}, low=low, high=high)

    # The seed classifier block: [Conv, BN, Dropout] x 2 -> MaxPool; the same -> AvgPool;
    # Dense(3) -> AvgPool; concatenated: 16 + 16 + 3 maps at half size.
    def cbd(p, src):
        return [
            {"name": f"{p}c1", "type": "Conv2D", "filters": 16, "kernel_size": 3, "padding": "same", "activation": "relu", "inputs": [src]},
            {"name": f"{p}bn1", "type": "BatchNormalization"}, {"name": f"{p}d1", "type": "Dropout", "rate": 0.25},
            {"name": f"{p}c2", "type": "Conv2D", "filters": 16, "kernel_size": 3, "padding": "same", "activation": "relu"},
            {"name": f"{p}bn2", "type": "BatchNormalization"}, {"name": f"{p}d2", "type": "Dropout", "rate": 0.25}]
    conv_pool = {"input": inp(16, 16, 3), "layers":
                 cbd("m", "input") + [{"name": "mpool", "type": "MaxPooling2D"}]
                 + cbd("a", "input") + [{"name": "apool", "type": "AveragePooling2D", "pool_size": 2}]
                 + [{"name": "dense", "type": "Dense", "units": 3, "inputs": ["input"]},
                    {"name": "dpool", "type": "AveragePooling2D", "pool_size": 2},
                    {"name": "cat", "type": "Concatenate", "inputs": ["mpool", "apool", "dpool"]}]}
    case("conv_pool", conv_pool, batch=3)
    json.dump({"name": "conv_pool", **conv_pool}, open(os.path.join(OUT, "..", "conv_pool.json"), "w"), indent=1)

    case("unet_crop", UNET, batch=3, training=True)
    json.dump(UNET_NAMED, open(os.path.join(OUT, "..", "unet_crop.json"), "w"), indent=1)
    for optimizer in ["adam", "sgd_momentum"]:
        training_steps("unet_crop", optimizer)


def training_steps(name, optimizer, steps=3):
    """Three train_on_batch steps (MSE, BatchNormalization in training mode) from the case's
    weights on a fixed batch: the losses, and every parameter and moving statistic after."""
    from safetensors.numpy import load_file
    base = os.path.join(OUT, name)
    spec = json.loads(open(os.path.join(OUT, "..", f"{name}.json")).read())
    model = build(spec)
    weights = load_file(base + ".safetensors")
    for layer in model.layers:
        for w in layer.weights:
            w.assign(weights[f"{layer.name}.{w.name}"])
    x = np.load(base + ".input.npy")
    rng = np.random.default_rng(zlib.crc32(f"{name}.target".encode()))
    target = rng.uniform(0, 1, tuple(model.output.shape[1:])).astype("float32")
    target = np.broadcast_to(target, (x.shape[0],) + target.shape).copy()
    target += rng.uniform(-0.1, 0.1, target.shape).astype("float32")
    np.save(base + ".target.npy", target)
    opt = keras.optimizers.Adam() if optimizer == "adam" else keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
    model.compile(optimizer=opt, loss="mse")
    losses = [float(model.train_on_batch(x, target)) for _ in range(steps)]
    after = {f"{l.name}.{w.name}": np.asarray(w.value).astype("float32") for l in model.layers for w in l.weights}
    save_file(after, f"{base}.{optimizer}.safetensors", metadata={"losses": json.dumps(losses)})
    print(f"{name} {optimizer}: losses {losses}")


# A 36 -> 16 U-Net-like crop autoencoder: two scales, a skip connection by concatenation, a
# stride-2 transposed convolution back up, and Cropping2D to the 16-px core.
UNET = {"input": inp(36, 36, 3), "layers": [
    {"name": "e1", "type": "Conv2D", "filters": 16, "kernel_size": 3, "padding": "same", "activation": "relu"},
    {"name": "bn1", "type": "BatchNormalization"},
    {"name": "e2", "type": "Conv2D", "filters": 16, "kernel_size": 3, "padding": "same", "activation": "relu"},
    {"name": "pool", "type": "MaxPooling2D"},
    {"name": "m1", "type": "Conv2D", "filters": 32, "kernel_size": 3, "padding": "same", "activation": "relu"},
    {"name": "bn2", "type": "BatchNormalization"},
    {"name": "drop", "type": "Dropout", "rate": 0.0},
    {"name": "m2", "type": "Conv2D", "filters": 32, "kernel_size": 3, "padding": "same", "activation": "relu"},
    {"name": "up", "type": "Conv2DTranspose", "filters": 16, "kernel_size": 3, "strides": 2, "padding": "same", "activation": "relu"},
    {"name": "skip", "type": "Concatenate", "inputs": ["up", "e2"]},
    {"name": "d1", "type": "Conv2D", "filters": 16, "kernel_size": 3, "padding": "same", "activation": "relu"},
    {"name": "rgb", "type": "Conv2D", "filters": 3, "kernel_size": 1, "activation": "sigmoid"},
    {"name": "crop", "type": "Cropping2D", "cropping": 10}]}
UNET_NAMED = {"name": "unet_crop", **UNET}

if __name__ == "__main__":
    sys.exit(main())
