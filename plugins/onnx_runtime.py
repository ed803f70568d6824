"""ONNX Runtime encoders for the sentence-transformers backend: ``backend="onnx"`` and ``"onnx-int8"``.

sentence-transformers' own ONNX backend (``SentenceTransformer(path, backend="onnx")`` and
``export_dynamic_quantized_onnx_model``) needs optimum-onnx, whose only release pins
transformers<4.58 while sentence-transformers 6 needs transformers>=5: the two cannot be installed
together. So this module does the same two steps that export does, with the libraries underneath it
— ``torch.onnx.export`` of the transformer, then onnxruntime's dynamic int8 quantisation with
optimum's ``avx512_vnni`` / ``avx2`` settings — and leaves tokenising, pooling and normalising to
sentence-transformers, whose transformer module simply runs the ONNX graph instead of the torch one.
The files are named as sentence-transformers names them (``model.onnx``,
``model_qint8_avx512_vnni.onnx``).

Where the export goes: ``export_dir`` when given (DocsTune passes ``DATA_DIR/onnx-cache/<digest>``,
so a read-only model folder such as the bundled package's works, and one folder holds every export),
else ``<model folder>/onnx`` (what sentence-transformers itself writes; ``weights_digest`` ignores it).
An export is made once, written to a temporary name and renamed, so two processes never read half a file.

Example::

    from sentence_transformers import SentenceTransformer
    model = SentenceTransformer("/srv/models/v3", device="cpu")
    use_onnx_runtime(model, "onnx-int8", Path("/srv/data/onnx-cache/v3"))
    model.encode(["how do refunds work?"])
"""
from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

BACKENDS = ("torch", "onnx", "onnx-int8")
ONNX_OUTPUT = "last_hidden_state"
_INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"Unknown embeddings backend {backend!r}: set EMBEDDINGS_BACKEND to one of "
                         f"{', '.join(BACKENDS)}.")


def quantisation_target() -> str:
    """``avx512_vnni`` where the CPU has int8 dot products (VNNI), else ``avx2`` (optimum's config names)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: the portable choice
        return "avx2"
    return "avx512_vnni" if "avx512_vnni" in flags else "avx2"


def backend_variant(backend: str) -> str:
    """What the fingerprint records: the int8 weights depend on the quantisation target, so it is named."""
    check_backend(backend)
    return f"onnx-int8-{quantisation_target()}" if backend == "onnx-int8" else backend


def onnx_file_name(backend: str) -> str:
    return f"model_qint8_{quantisation_target()}.onnx" if backend == "onnx-int8" else "model.onnx"


def _replace_atomically(write, target: Path) -> None:
    """``write(tmp_path)`` then rename onto ``target``: readers see no file or the whole file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=".onnx", dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _export_fp32(model, target: Path) -> None:
    import torch

    transformer = model[0]
    sample = transformer.tokenizer(["a first sample sentence", "a second"], return_tensors="pt", padding=True)
    names = [name for name in _INPUT_NAMES if name in sample]

    class LastHiddenState(torch.nn.Module):
        def __init__(self, hf_model):
            super().__init__()
            self.hf_model = hf_model

        def forward(self, *inputs):
            return self.hf_model(**dict(zip(names, inputs)), return_dict=True).last_hidden_state

    dynamic_axes = {name: {0: "batch", 1: "sequence"} for name in [*names, ONNX_OUTPUT]}
    # the tracer warns about shape checks in the attention code; the float32 export matches torch to 1e-4
    # on any batch and length (tests/plugins/test_quantised_encoder.py), so they are noise here
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _replace_atomically(
            lambda tmp: torch.onnx.export(
                LastHiddenState(transformer.model).eval(),
                tuple(sample[name] for name in names),
                tmp,
                input_names=names,
                output_names=[ONNX_OUTPUT],
                dynamic_axes=dynamic_axes,
                opset_version=17,
                dynamo=False,  # the TorchScript exporter needs no onnxscript and handles BERT-like models
            ),
            target,
        )


def _quantise_int8(fp32: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    vnni = quantisation_target() == "avx512_vnni"
    # optimum's AutoQuantizationConfig.avx512_vnni / .avx2 (is_static=False): symmetric per-channel int8
    # weights, asymmetric uint8 activations; without VNNI, 7-bit weights avoid the u8*s8 overflow
    _replace_atomically(
        lambda tmp: quantize_dynamic(
            fp32,
            tmp,
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=not vnni,
            op_types_to_quantize=["MatMul", "Attention", "Gather", "EmbedLayerNormalization"],
            extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
        ),
        target,
    )


def export_onnx(model, backend: str, export_dir: Path) -> Path:
    """The ONNX file for ``backend`` in ``export_dir``, exported from ``model`` (a torch SentenceTransformer) once."""
    check_backend(backend)
    fp32 = export_dir / "model.onnx"
    if not fp32.is_file():
        _export_fp32(model, fp32)
    if backend == "onnx":
        return fp32
    quantised = export_dir / onnx_file_name(backend)
    if not quantised.is_file():
        _quantise_int8(fp32, quantised)
    return quantised


def _onnx_transformer(onnx_file: Path, config):
    import numpy as np
    import onnxruntime
    import torch

    class OnnxTransformer(torch.nn.Module):
        """Stands in for the Hugging Face model inside sentence-transformers' Transformer module."""

        def __init__(self):
            super().__init__()
            self.config = config
            options = onnxruntime.SessionOptions()
            # as many threads as torch would use (OMP_NUM_THREADS / torch.set_num_threads): one knob for both
            options.intra_op_num_threads = torch.get_num_threads()
            self.session = onnxruntime.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
            self.input_names = [i.name for i in self.session.get_inputs()]

        def forward(self, input_ids, attention_mask=None, token_type_ids=None, **_ignored):
            given = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
            if given["attention_mask"] is None:
                given["attention_mask"] = torch.ones_like(input_ids)
            if given["token_type_ids"] is None:
                given["token_type_ids"] = torch.zeros_like(input_ids)
            feed = {name: given[name].cpu().numpy().astype(np.int64) for name in self.input_names}
            (hidden,) = self.session.run([ONNX_OUTPUT], feed)
            return {ONNX_OUTPUT: torch.from_numpy(hidden)}

    return OnnxTransformer()


def use_onnx_runtime(model, backend: str, export_dir: Path) -> Path:
    """Make ``model`` (a SentenceTransformer loaded with torch on the CPU) encode through ONNX Runtime.

    Returns the ONNX file it now runs. Tokeniser, pooling and normalisation stay sentence-transformers'.
    """
    onnx_file = export_onnx(model, backend, export_dir)
    transformer = model[0]
    transformer.model = _onnx_transformer(onnx_file, transformer.model.config)
    return onnx_file
