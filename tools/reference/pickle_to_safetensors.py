#!/usr/bin/env -S /usr/bin/python3
"""Convert a stylegan2-ada-pytorch network pickle to a dne generator file.

    /usr/bin/python3 tools/reference/pickle_to_safetensors.py SNAPSHOT.pkl OUT.safetensors [--which G_ema|G|D|all]

G_ema and G give a dne generator file (checked against stylegan2.py's
Generator). D and all give the raw state_dicts as stored (for all: "G.",
"D.", "G_ema." prefixes and the augmentation p in __metadata__["augment_p"]),
which tests/test_cli_ada_snapshot.c compares with `dne import`.

A snapshot pickle stores each network as a "persistent class": a call to
torch_utils.persistence._reconstruct_persistent_obj(meta) whose meta carries
the Python source of the network (which the reference exec()s) and the
module's __dict__ ("state"). We never run any of that: a restricted Unpickler
resolves only the few globals a snapshot needs, maps the persistent-object
hook to "return meta['state']", and refuses every other global. Tensor storages
are embedded torch.save blobs; they are read with torch.load(weights_only=True)
(refused if this torch lacks weights_only, since plain torch.load would run
arbitrary pickle code).

The state_dict names are rebuilt from the module states (own _parameters,
then own persistent _buffers, then _modules recursively, which is
torch.nn.Module.state_dict()'s order), the architecture from _init_kwargs, and
the result is loaded into tools/reference/stylegan2.py's Generator (so names
and shapes are checked) and saved with the config JSON in
__metadata__["config"].
"""

import argparse
import collections
import inspect
import io
import json
import os
import pickle
import sys

import numpy as np
import torch
import torch._utils

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import stylegan2  # noqa: E402


class PersistentState(dict):
    """The `state` of one persistent object (a module's __dict__), plus its class name."""
    class_name = None


class EasyDictStandIn(dict):
    """Stand-in for dnnlib.util.EasyDict: NVIDIA's training code stores nested
    kwargs (mapping_kwargs, synthesis_kwargs, ...) as EasyDict, a plain dict
    subclass; unpickling it needs only dict behaviour."""


def _reconstruct_persistent_obj(meta):
    # meta = {type, version, module_src, class_name, state}. module_src is
    # opaque text and is deliberately ignored.
    if not isinstance(meta, dict) or not isinstance(meta.get("state"), dict):
        raise pickle.UnpicklingError("persistent object without a state dict")
    state = PersistentState(meta["state"])
    state.class_name = meta.get("class_name")
    return state


def _rebuild_parameter(data, requires_grad, backward_hooks):
    # A Parameter is just its tensor for our purposes.
    return data


def _load_from_bytes(b):
    if "weights_only" not in inspect.signature(torch.load).parameters:
        raise pickle.UnpicklingError("this torch has no torch.load(weights_only=...); "
                                     "refusing to unpickle embedded storages (use torch >= 1.13)")
    return torch.load(io.BytesIO(b), map_location="cpu", weights_only=True)


def _numpy_scalar(dtype, data=None):
    # Numeric scalars only: an object-dtype scalar would carry an arbitrary object.
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise pickle.UnpicklingError("refusing numpy scalar of dtype %r" % (dtype,))
    return np.frombuffer(data, dtype=dtype, count=1)[0]


def _numpy_dtype(spec, align=False, copy=False):
    dt = np.dtype(spec, align, copy)
    if dt.hasobject:
        raise pickle.UnpicklingError("refusing object dtype")
    return dt


def _codecs_encode(text, encoding="utf-8", errors="strict"):
    # Protocol 2 has no bytes opcode: bytes arrive as _codecs.encode(str, 'latin1').
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("refusing _codecs.encode with encoding %r" % (encoding,))
    return text.encode("latin1")


ALLOWED = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_from_bytes,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,    # numpy >= 2 spelling
    ("numpy", "dtype"): _numpy_dtype,
    ("dnnlib.util", "EasyDict"): EasyDictStandIn,
    # Protocols <= 3 (NVIDIA's own snapshots come from Python 3.7, protocol 3)
    # have no set opcode and pickle each module's _non_persistent_buffers_set
    # as a call to set(); protocol 2 spells the module __builtin__.
    ("builtins", "set"): set,
    ("__builtin__", "set"): set,
    ("_codecs", "encode"): _codecs_encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        fn = ALLOWED.get((module, name))
        if fn is None:
            raise pickle.UnpicklingError("refusing global %s.%s" % (module, name))
        return fn

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refusing persistent id %r" % (pid,))


def load_snapshot(path):
    with open(path, "rb") as f:
        return RestrictedUnpickler(f).load()


def module_state_dict(state, prefix=""):
    """Rebuild torch.nn.Module.state_dict() from a module __dict__ (as unpickled)."""
    out = collections.OrderedDict()
    for name, t in state.get("_parameters", {}).items():
        if t is not None:
            out[prefix + name] = t
    skip = state.get("_non_persistent_buffers_set", set())
    for name, t in state.get("_buffers", {}).items():
        if t is not None and name not in skip:
            out[prefix + name] = t
    for name, child in state.get("_modules", {}).items():
        if child is not None:
            out.update(module_state_dict(child, prefix + name + "."))
    return out


# kwargs that do not change fp32 inference, or are only accepted at their defaults.
_IGNORED_SYNTH = {"num_fp16_res", "fp16_channels_last", "channels_last"}
_DEFAULTS_SYNTH = {"architecture": "skip", "resample_filter": [1, 3, 3, 1], "use_noise": True,
                   "activation": "lrelu", "kernel_size": 3}
_IGNORED_MAP = {"w_avg_beta"}   # only matters for training-time w_avg tracking
_DEFAULTS_MAP = {"embed_features": None, "layer_features": None, "activation": "lrelu", "lr_multiplier": 0.01}


def config_from_state(state):
    if state.get("_init_args"):
        raise ValueError("positional constructor args are not supported: %r" % (state["_init_args"],))
    kw = state.get("_init_kwargs")
    if not isinstance(kw, dict):
        raise ValueError("no _init_kwargs in the network state")
    mk = dict(kw.get("mapping_kwargs") or {})
    sk = dict(kw.get("synthesis_kwargs") or {})
    for src, ignored, defaults, what in ((mk, _IGNORED_MAP, _DEFAULTS_MAP, "mapping_kwargs"),
                                         (sk, _IGNORED_SYNTH, _DEFAULTS_SYNTH, "synthesis_kwargs")):
        for k, v in src.items():
            if k in ignored or k in ("num_layers", "channel_base", "channel_max", "conv_clamp"):
                continue
            if k in defaults and (v == defaults[k] or (isinstance(v, (list, tuple)) and list(v) == defaults[k])):
                continue
            raise ValueError("unsupported %s %s=%r" % (what, k, v))
    extra = set(kw) - {"z_dim", "c_dim", "w_dim", "img_resolution", "img_channels",
                       "mapping_kwargs", "synthesis_kwargs"}
    if extra:
        raise ValueError("unsupported Generator kwargs %s" % sorted(extra))
    clamp = sk.get("conv_clamp", None)
    return {
        "arch": "stylegan2",
        "z_dim": int(kw["z_dim"]),
        "w_dim": int(kw["w_dim"]),
        "c_dim": int(kw["c_dim"]),
        "img_resolution": int(kw["img_resolution"]),
        "img_channels": int(kw["img_channels"]),
        "mapping_layers": int(mk.get("num_layers", 8)),          # reference defaults
        "channel_base": int(sk.get("channel_base", 32768)),
        "channel_max": int(sk.get("channel_max", 512)),
        "conv_clamp": None if clamp is None else (int(clamp) if float(clamp).is_integer() else float(clamp)),
    }


def convert(pkl_path, out_path, which="G_ema"):
    snap = load_snapshot(pkl_path)
    if not isinstance(snap, dict) or which not in snap:
        raise ValueError("%s: no %r in the snapshot (keys: %s)" % (pkl_path, which,
                                                                  list(snap) if isinstance(snap, dict) else type(snap)))
    state = snap[which]
    if not isinstance(state, PersistentState) or state.class_name != "Generator":
        raise ValueError("%s is not a persistent Generator (class %r)" % (which, getattr(state, "class_name", None)))
    config = config_from_state(state)
    tensors = module_state_dict(state)
    G = stylegan2.Generator(config)
    G.load_arrays({k: v.detach().to(torch.float32).numpy() for k, v in tensors.items()}, what=pkl_path)
    if list(tensors) != list(G.state_dict()):
        raise ValueError("tensor order in the pickle differs from the reference layout")
    G.save(out_path)
    return config, len(tensors)


def dump_state_dicts(pkl_path, out_path, which):
    """The state_dicts of D, or of G, D and G_ema with the augment p, as stored (fp32)."""
    snap = load_snapshot(pkl_path)
    nets = ["D"] if which == "D" else ["G", "D", "G_ema"]
    tensors = collections.OrderedDict()
    for net in nets:
        if not isinstance(snap.get(net), PersistentState):
            raise ValueError("%s: no persistent %r in the snapshot" % (pkl_path, net))
        prefix = "" if which == "D" else net + "."
        for k, v in module_state_dict(snap[net]).items():
            tensors[prefix + k] = v.detach().to(torch.float32).contiguous().numpy()
    meta = {}
    if which == "all":
        pipe = snap.get("augment_pipe")
        p = module_state_dict(pipe)["p"] if isinstance(pipe, PersistentState) else torch.zeros([])
        meta["augment_p"] = "%.9g" % float(p)
    safetensors_io.write(out_path, tensors, meta)
    return len(tensors)


def main():
    ap = argparse.ArgumentParser(description="Convert a stylegan2-ada-pytorch snapshot to a dne generator file "
                                             "without executing code from the pickle.")
    ap.add_argument("snapshot")
    ap.add_argument("out")
    ap.add_argument("--which", default="G_ema", choices=["G_ema", "G", "D", "all"],
                    help="network in the snapshot (default G_ema)")
    args = ap.parse_args()
    if args.which in ("D", "all"):
        n = dump_state_dicts(args.snapshot, args.out, args.which)
        print("wrote %s: %d tensors" % (args.out, n))
        return
    config, n = convert(args.snapshot, args.out, args.which)
    print("wrote %s: %d tensors, config %s" % (args.out, n, json.dumps(config)))


if __name__ == "__main__":
    main()
