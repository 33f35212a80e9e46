"""GPU path of the dense index: same results as the CPU within float tolerance. Skipped without a GPU."""

import numpy as np
import pytest

faiss = pytest.importorskip("faiss")
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(getattr(faiss, "get_num_gpus", lambda: 0)() == 0, reason="FAISS sees no GPU")]


def test_gpu_flat_equals_cpu():
    from groundqa.index.dense import DenseConfig, DenseIndex

    rng = np.random.default_rng(0)
    x = rng.standard_normal((20_000, 384)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = x[:50] + 0.01 * rng.standard_normal((50, 384)).astype(np.float32)
    cpu = DenseIndex(384, DenseConfig(kind="flat", device="cpu"))
    cpu.rebuild(x)
    gpu = DenseIndex(384, DenseConfig(kind="flat", device="gpu"))
    gpu.rebuild(x)
    assert gpu.on_gpu and not cpu.on_gpu
    for a, b in zip(cpu.search_batch(q, 10), gpu.search_batch(q, 10)):
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-4, atol=1e-5)
        assert a.positions[0] == b.positions[0]
