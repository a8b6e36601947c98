#!/usr/bin/env -S /usr/bin/python3
"""Write small network snapshots in the layout of stylegan2-ada-pytorch's
network-snapshot-*.pkl, at pickle protocols 2 and 3, for tests/test_pickle.c.

    /usr/bin/python3 tools/reference/make_pickle_fixtures.py [--out tests/fixtures/pickle]

A snapshot is a dict {training_set_kwargs, G, D, G_ema, augment_pipe}; each
network is pickled as the reference's persistence module pickles it: a call
to torch_utils.persistence._reconstruct_persistent_obj(meta) with
meta = {type, version, module_src, class_name, state}, the state being the
module's __dict__ with its _init_kwargs. We make that call form with a
stand-in module registered under the reference's name (nothing of the
reference is imported), nested kwargs as a stand-in dnnlib.util.EasyDict,
one kwarg as a NumPy scalar, and the tensors as PyTorch pickles them
(_rebuild_tensor_v2, _rebuild_parameter, storages as legacy torch.save blobs
through torch.storage._load_from_bytes). Protocol 3 is what NVIDIA's own
snapshots use; protocol 2 spells bytes as _codecs.encode and sets as
__builtin__.set.

Writes tiny-proto2.pkl, tiny-proto3.pkl and tiny-expected.safetensors (the
G., D., G_ema. tensors in fp32, the G and D configs as dne writes them in
__metadata__ "config" and "D_config", and "augment_p"), and mismatch.pkl: a
4 px G_ema whose kwargs claim channel_base 16 while its tensors have 2
channels (an importer must refuse it, naming the tensor). PyTorch names
each storage in a pickle by an object address, so the .pkl bytes differ from
run to run; their contents and tiny-expected.safetensors do not.
"""

import argparse
import copy
import json
import os
import pickle
import sys
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safetensors_io  # noqa: E402
import stylegan2  # noqa: E402


def _register_stand_ins():
    """torch_utils.persistence._reconstruct_persistent_obj and dnnlib.util.EasyDict,
    findable by pickle under the reference's names."""
    for name in ("torch_utils", "torch_utils.persistence", "dnnlib", "dnnlib.util"):
        sys.modules.setdefault(name, types.ModuleType(name))

    def _reconstruct_persistent_obj(meta):  # never called: we only write
        raise RuntimeError("stand-in")
    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    sys.modules["torch_utils.persistence"]._reconstruct_persistent_obj = _reconstruct_persistent_obj

    class EasyDict(dict):
        pass
    EasyDict.__module__ = "dnnlib.util"
    EasyDict.__qualname__ = "EasyDict"
    sys.modules["dnnlib.util"].EasyDict = EasyDict
    return _reconstruct_persistent_obj, EasyDict


RECONSTRUCT, EasyDict = _register_stand_ins()


class AugmentPipe(torch.nn.Module):
    """Only what a snapshot keeps of the reference's AugmentPipe: p and a filter bank buffer."""

    def __init__(self, p):
        super().__init__()
        self.register_buffer("p", torch.tensor(float(p)))
        self.register_buffer("Hz_geom", torch.arange(12, dtype=torch.float32).reshape(1, 12) / 12)


class SnapshotPickler(pickle.Pickler):
    """Pickles every module as a persistent-class record; init kwargs per module."""

    def __init__(self, f, protocol, kwargs_of):
        super().__init__(f, protocol)
        self.kwargs_of = kwargs_of

    def reducer_override(self, obj):
        if not isinstance(obj, torch.nn.Module):
            return NotImplemented
        state = dict(obj.__dict__)
        state["_init_args"] = ()
        state["_init_kwargs"] = self.kwargs_of.get(id(obj), {})
        meta = dict(type="class", version=6, module_src="# dne test fixture: opaque, never executed",
                    class_name=type(obj).__name__, state=state)
        return RECONSTRUCT, (meta,)


def g_kwargs(cfg):
    return dict(z_dim=cfg["z_dim"], w_dim=cfg["w_dim"], c_dim=cfg["c_dim"], img_resolution=cfg["img_resolution"],
                img_channels=cfg["img_channels"],
                mapping_kwargs=EasyDict(num_layers=cfg["mapping_layers"]),
                synthesis_kwargs=EasyDict(channel_base=cfg["channel_base"], channel_max=cfg["channel_max"],
                                          num_fp16_res=2, conv_clamp=cfg["conv_clamp"]))


def d_kwargs(cfg):
    return dict(c_dim=cfg["c_dim"], img_resolution=cfg["img_resolution"], img_channels=cfg["img_channels"],
                channel_base=cfg["channel_base"], channel_max=cfg["channel_max"], num_fp16_res=2,
                conv_clamp=cfg["conv_clamp"], block_kwargs=EasyDict(), mapping_kwargs=EasyDict(),
                epilogue_kwargs=EasyDict(mbstd_group_size=np.int64(cfg["mbstd_group_size"])))


def randomize(module, gen):
    """Every parameter and buffer non-zero and distinct, filters kept."""
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if not name.endswith("resample_filter"):
                t.copy_(torch.randn(t.shape, generator=gen))


def main():
    ap = argparse.ArgumentParser(description="Write tiny snapshot pickles for tests/test_pickle.c.")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "tests", "fixtures", "pickle"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    gen = torch.Generator().manual_seed(123)
    g_cfg = dict(arch="stylegan2", z_dim=8, w_dim=8, c_dim=0, img_resolution=8, img_channels=3, mapping_layers=2,
                 channel_base=32, channel_max=4, conv_clamp=256)
    G = stylegan2.Generator(g_cfg)
    randomize(G, gen)
    G_ema = copy.deepcopy(G)
    randomize(G_ema, gen)
    d_cfg = stylegan2.d_config_for(g_cfg, mbstd_group_size=2)
    D = stylegan2.Discriminator(d_cfg)
    randomize(D, gen)
    pipe = AugmentPipe(0.375)
    snapshot = dict(training_set_kwargs=dict(class_name="training.dataset.ImageFolderDataset", path="tiny.zip",
                                             use_labels=False, max_size=np.int64(24), xflip=False, resolution=8),
                    G=G, D=D, G_ema=G_ema, augment_pipe=pipe)
    kwargs_of = {id(G): g_kwargs(g_cfg), id(G_ema): g_kwargs(g_cfg), id(D): d_kwargs(d_cfg),
                 id(pipe): dict(xflip=1, rotate90=1)}
    for protocol in (2, 3):
        path = os.path.join(args.out, "tiny-proto%d.pkl" % protocol)
        with open(path, "wb") as f:
            SnapshotPickler(f, protocol, kwargs_of).dump(snapshot)
        print("wrote %s (%d bytes)" % (path, os.path.getsize(path)))
    small_cfg = dict(g_cfg, z_dim=4, w_dim=4, img_resolution=4, mapping_layers=1, channel_base=8, channel_max=8)
    small = stylegan2.Generator(small_cfg)
    randomize(small, gen)
    path = os.path.join(args.out, "mismatch.pkl")
    with open(path, "wb") as f:
        SnapshotPickler(f, 3, {id(small): g_kwargs(dict(small_cfg, channel_base=16))}).dump(dict(G_ema=small))
    print("wrote %s (%d bytes)" % (path, os.path.getsize(path)))
    tensors = {}
    for prefix, net in (("G.", G), ("D.", D), ("G_ema.", G_ema)):
        for k, v in net.state_dict().items():
            tensors[prefix + k] = v.detach().to(torch.float32).contiguous().numpy()
    meta = {"config": json.dumps(g_cfg), "D_config": json.dumps(d_cfg), "augment_p": "%.9g" % 0.375}
    path = os.path.join(args.out, "tiny-expected.safetensors")
    safetensors_io.write(path, tensors, meta)
    print("wrote %s (%d tensors)" % (path, len(tensors)))


if __name__ == "__main__":
    main()
