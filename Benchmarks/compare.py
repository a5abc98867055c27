#!/usr/bin/env python3
"""Tessera's conv core beside Keras 3 (JAX backend, XLA), PyTorch (CPU: eager, and torch.compile
with freezing, channels_last) and ONNX Runtime, on the same spec, the same weights and the same
batches, in one run. Run by hand (not by CI), from the repository root, after
`swift build -c release`:

    python3 -m venv /tmp/bench && /tmp/bench/bin/pip install keras jax jaxlib torch onnx onnxruntime safetensors numpy
    KERAS_BACKEND=jax /tmp/bench/bin/python Benchmarks/compare.py --spec Benchmarks/specs/unet_crop.json --threads 2

It writes the model file with `tessera model init` (seeded weights), checks that every engine gives
tessera's outputs on the same tiles (largest difference printed), then times inference at batch 64
and 256 and training (Adam, MSE) at batch 32 and 64, and prints tiles/s and tessera's ratio to each.
With `--image 2048` it times whole images instead: tessera's region path (from `tessera bench`)
beside PyTorch eager and compile+freeze over the mirror-padded image in output chunks of 128, 256,
512 and 1024 px, each read with its 10-px margin, and prints MP/s and the ratio to the best.
Layers covered: what the crop autoencoders use (Conv2D, Conv2DTranspose, pooling, BatchNormalization,
Dropout, Concatenate, Add, Cropping2D, UpSampling2D, Activation).
"""
import argparse, json, os, subprocess, sys, tempfile, time

os.environ.setdefault("KERAS_BACKEND", "jax")
import numpy as np
from safetensors.numpy import load_file

ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "softplus")


def layers_of(spec):
    """(name, type, inputs, arguments) in order, inputs defaulting to the previous layer."""
    out, previous = [], None
    if "input" in spec:
        out.append((spec["input"].get("name", "input"), "InputLayer", [], spec["input"]))
        previous = out[-1][0]
    for layer in spec["layers"]:
        args = {k: v for k, v in layer.items() if k not in ("name", "type", "inputs")}
        inputs = layer.get("inputs", [previous] if previous else [])
        inputs = [inputs] if isinstance(inputs, str) else inputs
        out.append((layer["name"], layer["type"], inputs, args))
        previous = layer["name"]
    return out


def pair(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


# ---- Keras ------------------------------------------------------------------------------------

def keras_model(spec, weights):
    import keras
    tensors, model_layers = {}, []
    for name, kind, inputs, a in layers_of(spec):
        if kind == "InputLayer":
            tensors[name] = keras.Input(shape=tuple(a["shape"]), name=name)
            continue
        L = keras.layers
        common = dict(name=name)
        if kind == "Conv2D":
            layer = L.Conv2D(a["filters"], a["kernel_size"], strides=a.get("strides", 1), padding=a.get("padding", "valid"),
                             activation=a.get("activation", "linear"), use_bias=a.get("use_bias", True), **common)
        elif kind == "Conv2DTranspose":
            layer = L.Conv2DTranspose(a["filters"], a["kernel_size"], strides=a.get("strides", 1), padding=a.get("padding", "valid"),
                                      activation=a.get("activation", "linear"), use_bias=a.get("use_bias", True), **common)
        elif kind in ("MaxPooling2D", "AveragePooling2D"):
            layer = getattr(L, kind)(a.get("pool_size", 2), strides=a.get("strides"), padding=a.get("padding", "valid"), **common)
        elif kind == "BatchNormalization":
            layer = L.BatchNormalization(momentum=a.get("momentum", 0.99), epsilon=a.get("epsilon", 0.001), **common)
        elif kind == "Dropout":
            layer = L.Dropout(a["rate"], **common)
        elif kind == "Concatenate":
            layer = L.Concatenate(**common)
        elif kind == "Add":
            layer = L.Add(**common)
        elif kind == "Cropping2D":
            layer = L.Cropping2D(a["cropping"], **common)
        elif kind == "UpSampling2D":
            layer = L.UpSampling2D(a.get("size", 2), **common)
        elif kind == "Activation":
            layer = L.Activation(a["activation"], **common)
        else:
            sys.exit(f"compare.py does not translate {kind}")
        xs = [tensors[i] for i in inputs]
        tensors[name] = layer(xs if kind in ("Concatenate", "Add") else xs[0])
        model_layers.append((name, kind, layer))
    outputs = spec.get("outputs", [layers_of(spec)[-1][0]])
    model = keras.Model([tensors[n] for n, k, *_ in layers_of(spec) if k == "InputLayer"], [tensors[o] for o in outputs])
    for name, kind, layer in model_layers:
        if kind in ("Conv2D", "Conv2DTranspose"):
            layer.set_weights([weights[f"{name}.kernel"]] + ([weights[f"{name}.bias"]] if f"{name}.bias" in weights else []))
        elif kind == "BatchNormalization":
            layer.set_weights([weights[f"{name}.{p}"] for p in ("gamma", "beta", "moving_mean", "moving_variance")])
    return model


def time_loop(step, seconds=1.0, windows=3):
    """Runs per second, the best of `windows` windows (the host's two vCPUs are sometimes busy)."""
    step()
    best = 0.0
    for _ in range(windows):
        runs, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            step()
            runs += 1
        best = max(best, runs / (time.perf_counter() - start))
    return best


def keras_numbers(spec, weights, x, batches, train_batches, shape_in, shape_out):
    import jax, keras
    model = keras_model(spec, weights)
    infer = jax.jit(lambda v: model(v, training=False))
    result = {"check": np.asarray(infer(x))}
    for b in batches:
        v = np.random.default_rng(b).random((b, *shape_in), dtype=np.float32)
        result[f"infer {b}"] = b * time_loop(lambda: infer(v).block_until_ready())
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", jit_compile=True)
    for b in train_batches:
        v = np.random.default_rng(b).random((b, *shape_in), dtype=np.float32)
        t = np.random.default_rng(b + 1).random((b, *shape_out), dtype=np.float32)
        result[f"train {b}"] = b * time_loop(lambda: model.train_on_batch(v, t))
    return result


# ---- PyTorch ----------------------------------------------------------------------------------

def torch_model(spec, weights):
    import torch
    from torch import nn
    import torch.nn.functional as F

    class Graph(nn.Module):
        def __init__(self):
            super().__init__()
            self.plan, self.mods, self.crops, channels = layers_of(spec), nn.ModuleDict(), {}, {}
            for name, kind, inputs, a in self.plan:
                if kind == "InputLayer":
                    channels[name] = a["shape"][-1]
                    continue
                cin = channels[inputs[0]]
                if kind == "Conv2D":
                    k, s = pair(a["kernel_size"]), pair(a.get("strides", 1))
                    same = a.get("padding", "valid") == "same"
                    if same and s != (1, 1):
                        sys.exit("compare.py: strided 'same' Conv2D is not translated")
                    m = nn.Conv2d(cin, a["filters"], k, s, padding="same" if same else 0, bias=a.get("use_bias", True))
                    m.weight.data = torch.from_numpy(weights[f"{name}.kernel"].transpose(3, 2, 0, 1).copy())
                    if m.bias is not None: m.bias.data = torch.from_numpy(weights[f"{name}.bias"].copy())
                    channels[name] = a["filters"]
                elif kind == "Conv2DTranspose":
                    k, s = pair(a["kernel_size"]), pair(a.get("strides", 1))
                    if a.get("padding", "valid") == "same":
                        # The full transposed convolution, then Keras' window of input size x stride
                        # (tessera's Conv2DTranspose.cropStart), which PyTorch's padding cannot always express.
                        self.crops[name] = [(k_ - 1 - min((s_ + k_ - 1) // 2, k_ - 1), s_) for k_, s_ in zip(k, s)]
                    m = nn.ConvTranspose2d(cin, a["filters"], k, s, bias=a.get("use_bias", True))
                    m.weight.data = torch.from_numpy(weights[f"{name}.kernel"].transpose(3, 2, 0, 1).copy())
                    if m.bias is not None: m.bias.data = torch.from_numpy(weights[f"{name}.bias"].copy())
                    channels[name] = a["filters"]
                elif kind == "BatchNormalization":
                    m = nn.BatchNorm2d(cin, eps=a.get("epsilon", 0.001), momentum=1 - a.get("momentum", 0.99))
                    for p, t in (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"), ("running_var", "moving_variance")):
                        getattr(m, p).data = torch.from_numpy(weights[f"{name}.{t}"].copy())
                    channels[name] = cin
                elif kind == "Dropout":
                    m = nn.Dropout(a["rate"]); channels[name] = cin
                elif kind == "Concatenate":
                    m = nn.Identity(); channels[name] = sum(channels[i] for i in inputs)
                else:
                    m = nn.Identity(); channels[name] = cin
                self.mods[name] = m
            self.outputs = spec.get("outputs", [self.plan[-1][0]])

        def forward(self, x):
            values = {}
            for name, kind, inputs, a in self.plan:
                if kind == "InputLayer":
                    values[name] = x
                    continue
                xs = [values[i] for i in inputs]
                if kind in ("Conv2D", "Conv2DTranspose"):
                    y = self.mods[name](xs[0])
                    if name in self.crops:
                        (top, sh), (left, sw) = self.crops[name]
                        y = y[:, :, top:top + xs[0].shape[2] * sh, left:left + xs[0].shape[3] * sw]
                    act = a.get("activation", "linear")
                    y = {"linear": lambda t: t, "relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "softplus": F.softplus}[act](y)
                elif kind in ("MaxPooling2D", "AveragePooling2D"):
                    p = pair(a.get("pool_size", 2)); s = pair(a.get("strides") or p)
                    y = (F.max_pool2d if kind == "MaxPooling2D" else F.avg_pool2d)(xs[0], p, s, ceil_mode=a.get("padding") == "same")
                elif kind == "Concatenate":
                    y = torch.cat(xs, dim=1)
                elif kind == "Add":
                    y = sum(xs[1:], xs[0])
                elif kind == "Cropping2D":
                    (t, b), (l, r) = [pair(v) for v in (a["cropping"] if isinstance(a["cropping"], list) and isinstance(a["cropping"][0], list) else (pair(a["cropping"])[0], pair(a["cropping"])[1]))]
                    y = xs[0][:, :, t:xs[0].shape[2] - b, l:xs[0].shape[3] - r]
                elif kind == "UpSampling2D":
                    y = F.interpolate(xs[0], scale_factor=pair(a.get("size", 2)), mode="nearest")
                elif kind == "Activation":
                    y = {"linear": lambda t: t, "relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "softplus": F.softplus}[a["activation"]](xs[0])
                else:
                    y = self.mods[name](xs[0])
                values[name] = y
            return values[self.outputs[0]]

    return Graph()


def nchw(x):
    import torch
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).contiguous(memory_format=torch.channels_last)


def torch_numbers(spec, weights, x, batches, train_batches, shape_in, shape_out, threads):
    import torch
    torch.set_num_threads(threads)
    model = torch_model(spec, weights).eval().to(memory_format=torch.channels_last)
    import torch._inductor.config as inductor
    inductor.freezing = True
    result = {}
    for mode, run in (("eager", model), ("compile+freeze", torch.compile(model))):
        with torch.inference_mode():
            result[f"{mode} check"] = run(nchw(x)).numpy().transpose(0, 2, 3, 1)
            for b in batches:
                v = nchw(np.random.default_rng(b).random((b, *shape_in), dtype=np.float32))
                result[f"{mode} infer {b}"] = b * time_loop(lambda: run(v))
    inductor.freezing = False
    for mode in ("eager", "compile"):
        trained = torch_model(spec, weights).train().to(memory_format=torch.channels_last)
        optimizer = torch.optim.Adam(trained.parameters(), lr=1e-3, eps=1e-7)
        step_model = torch.compile(trained) if mode == "compile" else trained
        for b in train_batches:
            v = nchw(np.random.default_rng(b).random((b, *shape_in), dtype=np.float32))
            t = nchw(np.random.default_rng(b + 1).random((b, *shape_out), dtype=np.float32))

            def step():
                optimizer.zero_grad(set_to_none=True)
                loss = torch.nn.functional.mse_loss(step_model(v), t)
                loss.backward()
                optimizer.step()
            result[f"{mode} train {b}"] = b * time_loop(step)
    return result, model


def onnx_numbers(model, x, batches, shape_in, threads, folder):
    import torch, onnxruntime as ort
    path = os.path.join(folder, "model.onnx")
    with torch.no_grad():
        torch.onnx.export(model, (nchw(x),), path, input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}},
                          dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    result = {"check": session.run(None, {"x": np.ascontiguousarray(x.transpose(0, 3, 1, 2))})[0].transpose(0, 2, 3, 1)}
    for b in batches:
        v = np.ascontiguousarray(np.random.default_rng(b).random((b, *shape_in), dtype=np.float32).transpose(0, 3, 1, 2))
        result[f"infer {b}"] = b * time_loop(lambda: session.run(None, {"x": v}))
    return result


def torch_image_numbers(spec, weights, side, threads, chunks=(128, 256, 512, 1024), margin=10):
    """MP/s of PyTorch over a side x side image the way a fully convolutional peer runs it best: the
    image mirror-padded by the margin, cut into output chunks of each size, each chunk read with
    its margin; eager and compile+freeze (channels_last), batch 1."""
    import torch
    torch.set_num_threads(threads)
    import torch._inductor.config as inductor
    inductor.freezing = True
    torch._dynamo.config.cache_size_limit = 64
    model = torch_model(spec, weights).eval().to(memory_format=torch.channels_last)
    bands = spec["input"]["shape"][-1]
    image = np.random.default_rng(7).random((1, side, side, bands), dtype=np.float32)
    padded = nchw(np.pad(image, ((0, 0), (margin, margin), (margin, margin), (0, 0)), mode="reflect"))
    result = {}
    for mode in ("eager", "compile+freeze"):
        run = torch.compile(model) if mode == "compile+freeze" else model
        for c in chunks:
            if side % c:
                continue
            with torch.inference_mode():
                first = run(padded[:, :, :c + 2 * margin, :c + 2 * margin])
                out = torch.empty((1, first.shape[1], side, side)).contiguous(memory_format=torch.channels_last)

                def whole():
                    for y in range(0, side, c):
                        for x in range(0, side, c):
                            out[:, :, y:y + c, x:x + c] = run(padded[:, :, y:y + c + 2 * margin, x:x + c + 2 * margin])
                result[(mode, c)] = side * side / 1e6 * time_loop(whole, seconds=2.0)
    return result


def image_main(args, spec):
    """Whole-image mode: tessera's region path (`tessera bench`, its 2048 px image) beside PyTorch's
    best chunking of the same spec and weights."""
    with tempfile.TemporaryDirectory() as folder:
        model_file = os.path.join(folder, "model.safetensors")
        subprocess.run([args.tessera, "model", "init", args.spec, model_file, "--seed", "1"], check=True, capture_output=True)
        weights = load_file(model_file)
        print(f"spec {args.spec}, {args.threads} threads, {args.image}x{args.image} image; timing tessera ...", flush=True)
        bench = json.loads(subprocess.run([args.tessera, "bench", "--spec", model_file, "--threads", str(args.threads), "--json"],
                                          check=True, capture_output=True, text=True).stdout)
    if bench["image_side"] != args.image:
        sys.exit(f"tessera bench times a {bench['image_side']} px image; give --image {bench['image_side']}")
    mine = bench["region_mp_per_s"] or bench["tiled_mp_per_s"]
    path = "region" if bench["region_mp_per_s"] else f"tiled ({bench['region_refusal']})"
    print("timing PyTorch chunks ...", flush=True)
    t = torch_image_numbers(spec, weights, args.image, args.threads)
    print(f"\n{'engine':36s} {'MP/s':>7s} {'tessera/this':>13s}")
    print(f"{'tessera ' + path:36s} {mine:7.2f}")
    for (mode, c), v in t.items():
        print(f"{f'torch {mode} {c} px chunks':36s} {v:7.2f} {mine / v:12.2f}x")
    for mode in ("eager", "compile+freeze"):
        (c, v) = max(((c, v) for (m, c), v in t.items() if m == mode), key=lambda cv: cv[1])
        print(f"best torch {mode}: {v:.2f} MP/s ({c} px chunks); tessera {mine / v:.2f}x")
    if args.json:
        json.dump({"spec": args.spec, "threads": args.threads, "image": args.image, "tessera_mp_per_s": mine, "tessera_path": path,
                   "torch": [dict(mode=m, chunk=c, mp_per_s=v) for (m, c), v in t.items()]}, open(args.json, "w"), indent=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", default="Benchmarks/specs/unet_crop.json")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tessera", default=".build/release/tessera")
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--image", type=int, help="whole-image mode instead: MP/s on an IMAGE x IMAGE image (2048)")
    args = parser.parse_args()
    batches, train_batches = (64, 256), (32, 64)
    spec = json.load(open(args.spec))
    if args.image:
        return image_main(args, spec)
    with tempfile.TemporaryDirectory() as folder:
        model_file = os.path.join(folder, "model.safetensors")
        subprocess.run([args.tessera, "model", "init", args.spec, model_file, "--seed", "1"], check=True, capture_output=True)
        weights = load_file(model_file)
        shape_in = tuple(spec["input"]["shape"])
        x = np.random.default_rng(0).random((8, *shape_in), dtype=np.float32)
        np.save(os.path.join(folder, "x.npy"), x)
        subprocess.run([args.tessera, "model", "run", model_file, "--input", os.path.join(folder, "x.npy"),
                        "--output", os.path.join(folder, "y.npy")], check=True)
        reference = np.load(os.path.join(folder, "y.npy"))
        shape_out = reference.shape[1:]

        print(f"spec {args.spec}, {args.threads} threads; timing tessera ...", flush=True)
        bench = json.loads(subprocess.run([args.tessera, "bench", "--spec", model_file, "--threads", str(args.threads), "--json", "--train"],
                                          check=True, capture_output=True, text=True).stdout)
        rows = [("tessera", "infer", b, bench["tiles_per_s"][str(b)]) for b in batches]
        rows += [("tessera", "train", b, bench["train_tiles_per_s"][str(b)]) for b in train_batches]
        checks = {}

        print("timing Keras (JAX) ...", flush=True)
        k = keras_numbers(spec, weights, x, batches, train_batches, shape_in, shape_out)
        checks["keras-jax"] = k.pop("check")
        rows += [("keras-jax", *key.split(" ")[:1], int(key.split(" ")[1]), v) for key, v in k.items()]

        print("timing PyTorch ...", flush=True)
        t, model = torch_numbers(spec, weights, x, batches, train_batches, shape_in, shape_out, args.threads)
        checks["torch eager"] = t.pop("eager check")
        checks["torch compile+freeze"] = t.pop("compile+freeze check")
        for key, v in t.items():
            words = key.split(" ")
            rows.append((f"torch {words[0]}", words[1], int(words[2]), v))

        print("timing ONNX Runtime ...", flush=True)
        o = onnx_numbers(model, x, batches, shape_in, args.threads, folder)
        checks["onnxruntime"] = o.pop("check")
        rows += [("onnxruntime", "infer", int(key.split(" ")[1]), v) for key, v in o.items()]

    print(f"\nlargest difference to tessera's output on 8 tiles:")
    for name, y in checks.items():
        print(f"  {name:22s} {np.abs(y - reference).max():.2e}")
    mine = {(kind, b): v for engine, kind, b, v in rows if engine == "tessera"}
    print(f"\n{'engine':22s} {'task':6s} {'batch':>5s} {'tiles/s':>9s} {'tessera/this':>13s}")
    for engine, kind, b, v in rows:
        print(f"{engine:22s} {kind:6s} {b:5d} {v:9.0f} {mine[(kind, b)] / v:12.2f}x")
    if args.json:
        json.dump({"spec": args.spec, "threads": args.threads, "tessera_bench": bench,
                   "rows": [dict(engine=e, task=k, batch=b, tiles_per_s=v) for e, k, b, v in rows],
                   "max_difference": {n: float(np.abs(y - reference).max()) for n, y in checks.items()}}, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
