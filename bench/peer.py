"""The PyTorch peer of the lab's benchmarks.

The same GPT-2-style model as src/core/model, written in PyTorch as a
functional forward pass. It loads the lab's safetensors checkpoint and the
adapter tensors and batches that `npm run bench` exports, then times the
same work as the TypeScript side: a LoRA fine-tuning step, a linearized step
and the empirical NTK with its per-block kernels and eigendecomposition. It
also writes its outputs, gradients, Jacobian and spectra in float64 and in
float32 for the agreement check.

Protocol: one JSON command per line on stdin, one JSON reply per line on
stdout. Replies carry "ok": true, or "ok": false with an "error" message.

  {"cmd": "setup", "dir": DIR, "checkpoint": DIR, "threads": 2}
  {"cmd": "agreement"}  writes DIR/peer-agreement.safetensors (F64)
  {"cmd": "time", "what": "step" | "linearStep" | "ntk" | "eigen" | "spectrum", "count": N}
"""

import json
import math
import os
import platform
import struct
import sys
import time
import traceback

import torch
import torch.nn.functional as F
from functorch import jacrev, vmap

MODULES = ["attn.q", "attn.k", "attn.v", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"]

# The additive causal mask of src/core/model/attention.ts: -1e9 above the diagonal.
NEG_INF = -1e9

SAFETENSORS_DTYPES = {"F32": torch.float32, "F64": torch.float64, "I32": torch.int32}


def read_safetensors(path):
    """Read a safetensors file into a dict of tensors and its metadata."""
    with open(path, "rb") as file:
        data = file.read()
    (header_length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_length].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    buffer = bytearray(data[8 + header_length :])
    tensors = {}
    for name, info in header.items():
        dtype = SAFETENSORS_DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        count = (end - begin) // torch.tensor([], dtype=dtype).element_size()
        flat = torch.frombuffer(buffer, dtype=dtype, count=count, offset=begin)
        tensors[name] = flat.reshape(info["shape"]).clone()
    return tensors, metadata


def write_safetensors(path, tensors):
    """Write float64 tensors as a safetensors file, names sorted."""
    header = {}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        array = tensors[name].detach().to(torch.float64).contiguous()
        raw = array.numpy().tobytes()
        header[name] = {"dtype": "F64", "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    header_bytes = json.dumps(header).encode("utf-8")
    header_bytes += b" " * ((8 - len(header_bytes) % 8) % 8)
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", len(header_bytes)))
        file.write(header_bytes)
        for raw in chunks:
            file.write(raw)


def base_params(checkpoint, dtype):
    """Split c_attn into q, k and v as src/core/checkpoint/checkpoint.ts does, in Conv1D [in, out] layout."""
    tensors = {name: value.to(dtype) for name, value in checkpoint.items()}
    d = tensors["wte.weight"].shape[1]
    layers = []
    layer = 0
    while f"h.{layer}.ln_1.weight" in tensors:
        prefix = f"h.{layer}"
        c_attn_w = tensors[f"{prefix}.attn.c_attn.weight"]  # [d, 3d]
        c_attn_b = tensors[f"{prefix}.attn.c_attn.bias"]  # [3d]
        modules = {
            "attn.q": (c_attn_w[:, :d].contiguous(), c_attn_b[:d].contiguous()),
            "attn.k": (c_attn_w[:, d : 2 * d].contiguous(), c_attn_b[d : 2 * d].contiguous()),
            "attn.v": (c_attn_w[:, 2 * d :].contiguous(), c_attn_b[2 * d :].contiguous()),
        }
        for module in ["attn.c_proj", "mlp.c_fc", "mlp.c_proj"]:
            modules[module] = (tensors[f"{prefix}.{module}.weight"], tensors[f"{prefix}.{module}.bias"])
        layers.append(
            {
                "ln_1": (tensors[f"{prefix}.ln_1.weight"], tensors[f"{prefix}.ln_1.bias"]),
                "ln_2": (tensors[f"{prefix}.ln_2.weight"], tensors[f"{prefix}.ln_2.bias"]),
                "modules": modules,
            }
        )
        layer += 1
    return {
        "wte": tensors["wte.weight"],
        "wpe": tensors["wpe.weight"],
        "ln_f": (tensors["ln_f.weight"], tensors["ln_f.bias"]),
        "h": layers,
    }


class Model:
    """The verbalizer output f(x; θ) ∈ R^C of the lab's GPT-2-style model with LoRA on chosen modules."""

    def __init__(self, base, theta_entries, scale, n_head, epsilon, label_ids, length):
        self.base = base
        self.entries = theta_entries
        self.scale = scale
        self.n_head = n_head
        self.epsilon = epsilon
        dtype = base["wte"].dtype
        self.label_embeddings = base["wte"][label_ids]  # [C, d]
        lower = torch.tril(torch.ones(length, length, dtype=dtype))
        self.causal_mask = (1 - lower) * NEG_INF  # [T, T]

    def adapters(self, theta):
        """Map (layer, module) to its (A, B) pair from θ's tensors in layout order."""
        pairs = {}
        for entry, tensor in zip(self.entries, theta):
            key = (entry["layer"], entry["module"])
            pairs.setdefault(key, {})[entry["part"]] = tensor
        return pairs

    def linear(self, x, module, adapter):
        weight, bias = module
        y = x @ weight + bias
        if adapter is not None:
            y = y + self.scale * ((x @ adapter["lora_A"].T) @ adapter["lora_B"].T)
        return y

    def attention(self, x, layer, adapters, index):
        B, T, C = x.shape
        head_dim = C // self.n_head
        modules = layer["modules"]

        def heads(name):
            y = self.linear(x, modules[name], adapters.get((index, name)))
            return y.reshape(B, T, self.n_head, head_dim).transpose(1, 2)  # [B, nHead, T, headDim]

        q, k, v = heads("attn.q"), heads("attn.k"), heads("attn.v")
        scores = (q @ k.transpose(-1, -2)) * (1 / math.sqrt(head_dim))  # [B, nHead, T, T]
        weights = torch.softmax(scores + self.causal_mask[:T, :T], dim=-1)
        merged = (weights @ v).transpose(1, 2).reshape(B, T, C)  # [B, T, C]
        return self.linear(merged, modules["attn.c_proj"], adapters.get((index, "attn.c_proj")))

    def mlp(self, x, layer, adapters, index):
        modules = layer["modules"]
        hidden = F.gelu(self.linear(x, modules["mlp.c_fc"], adapters.get((index, "mlp.c_fc"))), approximate="tanh")
        return self.linear(hidden, modules["mlp.c_proj"], adapters.get((index, "mlp.c_proj")))

    def __call__(self, theta, ids, answer_mask):
        """ids: [B, T] int64, answer_mask: [B, T] one-hot at the answer position → [B, C]."""
        adapters = self.adapters(theta)
        B, T = ids.shape
        x = self.base["wte"][ids] + self.base["wpe"][:T]  # [B, T, d]
        d = x.shape[-1]
        for index, layer in enumerate(self.base["h"]):
            x = x + self.attention(F.layer_norm(x, (d,), *layer["ln_1"], self.epsilon), layer, adapters, index)
            x = x + self.mlp(F.layer_norm(x, (d,), *layer["ln_2"], self.epsilon), layer, adapters, index)
        h = F.layer_norm(x, (d,), *self.base["ln_f"], self.epsilon)  # [B, T, d]
        answer_hidden = (answer_mask.unsqueeze(1) @ h).squeeze(1)  # [B, d]
        return answer_hidden @ self.label_embeddings.T  # [B, C]


def data_loss(f, labels, loss):
    if loss == "ce":
        return F.cross_entropy(f, labels)
    targets = F.one_hot(labels, f.shape[1]).to(f.dtype)
    return (0.5 * ((f - targets) ** 2).sum(1)).mean()


def squared_distance(theta, anchor):
    return sum(((p - a) ** 2).sum() for p, a in zip(theta, anchor))


def per_example_jacobian(model, theta, ids, answer_mask):
    """J [N·C, P] by vmap(jacrev(f_single)) over examples, as in PyTorch's NTK tutorial; rows i·C + a."""

    def f_single(theta_tuple, row_ids, row_mask):
        return model(theta_tuple, row_ids.unsqueeze(0), row_mask.unsqueeze(0)).squeeze(0)  # [C]

    grads = vmap(jacrev(f_single), in_dims=(None, 0, 0))(tuple(theta), ids, answer_mask)  # each [N, C, *shape]
    N = ids.shape[0]
    C = grads[0].shape[1]
    return torch.cat([g.reshape(N, C, -1) for g in grads], dim=2).reshape(N * C, -1)  # [N·C, P]


def ntk_with_blocks(J, blocks):
    """The full kernel J·Jᵀ and one kernel per layout block."""
    full = J @ J.T
    per_block = [J[:, b["offset"] : b["offset"] + b["size"]] @ J[:, b["offset"] : b["offset"] + b["size"]].T for b in blocks]
    return full, per_block


def traced_kernel(K, n, c):
    """K_tr[i, j] = (1/C) Σ_a K[(i, a), (j, a)]."""
    return K.reshape(n, c, n, c).diagonal(dim1=1, dim2=3).mean(-1)


class Peer:
    def __init__(self, command):
        torch.set_num_threads(int(command.get("threads", 2)))
        folder = command["dir"]
        with open(os.path.join(folder, "inputs.json"), encoding="utf-8") as file:
            self.inputs = json.load(file)
        checkpoint, _ = read_safetensors(os.path.join(command["checkpoint"], "model.safetensors"))
        with open(os.path.join(command["checkpoint"], "config.json"), encoding="utf-8") as file:
            config = json.load(file)
        self.folder = folder
        self.config = config
        self.checkpoint = checkpoint
        self.theta0_tensors, _ = read_safetensors(os.path.join(folder, "theta0.safetensors"))
        self.theta1_tensors, _ = read_safetensors(os.path.join(folder, "theta1.safetensors"))
        self.state = self.build(torch.float32)
        self.trainers = {}

    def batch_tensors(self, rows, dtype):
        count, length = rows["count"], rows["length"]
        ids = torch.tensor(rows["ids"], dtype=torch.int64).reshape(count, length)
        mask = F.one_hot(torch.tensor(rows["answerPositions"], dtype=torch.int64), length).to(dtype)
        labels = torch.tensor(rows["labels"], dtype=torch.int64)
        return ids, mask, labels

    def build(self, dtype):
        inputs = self.inputs
        entries = inputs["layout"]["entries"]
        base = base_params(self.checkpoint, dtype)
        label_ids = torch.tensor(inputs["labelTokenIds"], dtype=torch.int64)
        length = max(inputs["batch"]["length"], inputs["probe"]["length"])
        model = Model(
            base,
            entries,
            inputs["layout"]["scale"],
            self.config["n_head"],
            self.config.get("layer_norm_epsilon", 1e-5),
            label_ids,
            length,
        )
        theta0 = [self.theta0_tensors[entry["name"]].to(dtype) for entry in entries]
        theta1 = [self.theta1_tensors[entry["name"]].to(dtype) for entry in entries]
        return {
            "dtype": dtype,
            "model": model,
            "theta0": theta0,
            "theta1": theta1,
            "batch": self.batch_tensors(inputs["batch"], dtype),
            "probe": self.batch_tensors(inputs["probe"], dtype),
        }

    # Timed work, float32 as tfjs runs it.

    def make_trainer(self, linearized):
        state = self.state
        spec = self.inputs["spec"]
        model = state["model"]
        ids, mask, labels = state["batch"]
        theta = [p.clone().requires_grad_(True) for p in state["theta0"]]
        anchor = [p.clone() for p in state["theta0"]]
        if linearized:
            J = per_example_jacobian(model, anchor, ids, mask).detach()  # [B·C, P]
            with torch.no_grad():
                f0 = model(anchor, ids, mask)  # [B, C]
            theta0_flat = torch.cat([p.reshape(-1) for p in anchor])
            N, C = f0.shape
            rows = torch.arange(N)

            def predict():
                delta = torch.cat([p.reshape(-1) for p in theta]) - theta0_flat  # [P]
                J_rows = J.reshape(N, C, -1)[rows].reshape(N * C, -1)  # [B·C, P]
                return f0[rows] + (J_rows @ delta).reshape(N, C)

        else:

            def predict():
                return model(theta, ids, mask)

        optimizer = torch.optim.Adam(theta, lr=spec["lr"]) if spec["optimizer"] == "adam" else torch.optim.SGD(theta, lr=spec["lr"])
        lam = spec["lambda"]

        def step():
            f = predict()
            loss = data_loss(f, labels, spec["loss"])
            objective = loss + (lam / 2) * squared_distance(theta, anchor) if lam > 0 else loss
            optimizer.zero_grad(set_to_none=True)
            objective.backward()
            optimizer.step()
            with torch.no_grad():
                distance = torch.sqrt(squared_distance(theta, anchor))
            return loss.item(), distance.item()

        return step

    def time(self, command):
        what = command["what"]
        count = int(command["count"])
        if what in ("step", "linearStep"):
            if what not in self.trainers:
                self.trainers[what] = self.make_trainer(what == "linearStep")
            work = self.trainers[what]
        elif what == "ntk":
            work = self.ntk
        elif what == "eigen":
            full, _ = self.ntk()
            work = lambda: torch.linalg.eigh(full)
        elif what == "spectrum":
            full, blocks = self.ntk()
            work = lambda: self.spectrum(full, blocks)
        else:
            raise ValueError(f"unknown timing target {what!r}; expected step, linearStep, ntk, eigen or spectrum")

        times = []
        for _ in range(count):
            started = time.perf_counter()
            work()
            times.append((time.perf_counter() - started) * 1000)
        return {"ms": times}

    def ntk(self):
        """The NTK at θ₀ on the probe set, with its blocks, in float64 as the TS side reads it back."""
        state = self.state
        ids, mask, _ = state["probe"]
        with torch.no_grad():
            J = per_example_jacobian(state["model"], state["theta0"], ids, mask)
            full, blocks = ntk_with_blocks(J, self.inputs["layout"]["blocks"])
        return full.double(), [block.double() for block in blocks]

    def spectrum(self, full, blocks):
        """The eigen work of the lab's ntk event: the full kernel, the traced kernel and every block."""
        n = self.inputs["probe"]["count"]
        c = len(self.inputs["labelTokenIds"])
        values = torch.linalg.eigvalsh(full)
        traced = torch.linalg.eigvalsh(traced_kernel(full, n, c))
        per_block = [torch.linalg.eigvalsh(block) for block in blocks]
        return values, traced, per_block

    # Agreement: every output in float64 and in float32.

    def agreement(self):
        out = {}
        for dtype, suffix in ((torch.float64, "64"), (torch.float32, "32")):
            state = self.state if dtype == torch.float32 else self.build(dtype)
            out.update({f"{name}_{suffix}": value for name, value in self.outputs(state).items()})
        path = os.path.join(self.folder, "peer-agreement.safetensors")
        write_safetensors(path, out)
        return {"file": path}

    def outputs(self, state):
        spec = self.inputs["spec"]
        model = state["model"]
        ids, mask, labels = state["batch"]
        result = {}

        for name, theta_values in (("theta0", state["theta0"]), ("theta1", state["theta1"])):
            theta = [p.clone().requires_grad_(True) for p in theta_values]
            f = model(theta, ids, mask)
            loss = data_loss(f, labels, spec["loss"])
            grads = torch.autograd.grad(loss, theta)
            result[f"f_{name}"] = f.detach()
            result[f"loss_{name}"] = loss.detach().reshape(1)
            result[f"grad_{name}"] = torch.cat([g.reshape(-1) for g in grads])

        # One optimizer step from θ₀, as the first fine-tuning step.
        theta = [p.clone().requires_grad_(True) for p in state["theta0"]]
        optimizer = torch.optim.Adam(theta, lr=spec["lr"]) if spec["optimizer"] == "adam" else torch.optim.SGD(theta, lr=spec["lr"])
        loss = data_loss(model(theta, ids, mask), labels, spec["loss"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        result["theta_after_step"] = torch.cat([p.detach().reshape(-1) for p in theta])

        # The linearized model on the batch at θ₁: f_lin = f(θ₀) + J(θ₀)(θ₁ − θ₀).
        theta0 = state["theta0"]
        J_batch = per_example_jacobian(model, theta0, ids, mask).detach()
        with torch.no_grad():
            f0 = model(theta0, ids, mask)
        theta1 = [p.clone().requires_grad_(True) for p in state["theta1"]]
        delta = torch.cat([p.reshape(-1) for p in theta1]) - torch.cat([p.reshape(-1) for p in theta0])
        f_lin = f0 + (J_batch @ delta).reshape(f0.shape)
        loss_lin = data_loss(f_lin, labels, spec["loss"])
        grads_lin = torch.autograd.grad(loss_lin, theta1)
        result["f_lin_theta1"] = f_lin.detach()
        result["grad_lin_theta1"] = torch.cat([g.reshape(-1) for g in grads_lin])

        # The NTK at θ₀ on the probe set.
        probe_ids, probe_mask, _ = state["probe"]
        J = per_example_jacobian(model, theta0, probe_ids, probe_mask).detach()
        full, blocks = ntk_with_blocks(J, self.inputs["layout"]["blocks"])
        n = self.inputs["probe"]["count"]
        c = len(self.inputs["labelTokenIds"])
        full64 = full.double()
        result["jacobian"] = J
        result["kernel"] = full
        result["eigenvalues"] = torch.linalg.eigvalsh(full64).flip(0)
        result["traced_eigenvalues"] = torch.linalg.eigvalsh(traced_kernel(full64, n, c)).flip(0)
        result["block_mu_max"] = torch.stack([torch.linalg.eigvalsh(block.double())[-1] for block in blocks])
        return result


def versions():
    blas = "unknown"
    link = "/usr/lib/x86_64-linux-gnu/libblas.so.3"
    if os.path.exists(link):
        blas = os.path.realpath(link)
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": blas,
    }


def main():
    peer = None
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            command = json.loads(line)
            name = command.get("cmd")
            if name == "setup":
                peer = Peer(command)
                reply = {"versions": versions()}
            elif name == "quit":
                break
            elif peer is None:
                raise ValueError(f"command {name!r} before setup; send setup first")
            elif name == "agreement":
                reply = peer.agreement()
            elif name == "time":
                reply = peer.time(command)
            else:
                raise ValueError(f"unknown command {name!r}; expected setup, agreement, time or quit")
            reply["ok"] = True
        except Exception as error:  # noqa: BLE001 - every failure is reported to the caller as one line
            reply = {"ok": False, "error": f"{type(error).__name__}: {error}", "trace": traceback.format_exc()}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
