"""The compatibility shims applied on ``import fusion_moe`` are needed and work."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import fusion_moe  # noqa: F401  (applies the shims)


def _random_sparse_volume(seed: int, shape=(6, 7, 8), channels=4, occupancy=0.3):
    """Sparse voxels as (indices (V, 4) int32 [b, z, y, x], features (V, C)) and the dense twin."""
    gen = torch.Generator().manual_seed(seed)
    occupied = torch.rand(shape, generator=gen) < occupancy
    zyx = occupied.nonzero().int()
    indices = torch.cat([torch.zeros(len(zyx), 1, dtype=torch.int32), zyx], dim=1)
    feats = torch.randn(len(zyx), channels, generator=gen, dtype=torch.float64).float()
    return indices, feats, occupied


def test_spconv_submconv3d_forward_and_backward_match_dense_conv3d():
    import spconv.pytorch as spconv
    torch.manual_seed(0)
    indices, feats, occupied = _random_sparse_volume(seed=0)
    feats_sparse = feats.clone().requires_grad_(True)
    conv = spconv.SubMConv3d(4, 6, kernel_size=3, padding=1, bias=True, indice_key='subm')
    out = conv(spconv.SparseConvTensor(feats_sparse, indices, list(occupied.shape), 1))

    # Dense twin: the same weights as a conv3d ((out, k, k, k, in) -> (out, in, k, k, k)).
    weight = conv.weight.detach().permute(0, 4, 1, 2, 3).clone().requires_grad_(True)
    bias = conv.bias.detach().clone().requires_grad_(True)
    z, y, x = indices[:, 1].long(), indices[:, 2].long(), indices[:, 3].long()
    feats_dense = feats.clone().requires_grad_(True)
    dense_in = _scatter(feats_dense, z, y, x, occupied.shape)
    dense_out = F.conv3d(dense_in, weight, bias, padding=1)[0].permute(1, 2, 3, 0)[z, y, x]

    # Submanifold convolution = dense convolution read at the active sites.
    torch.testing.assert_close(out.features, dense_out, rtol=1e-4, atol=1e-4)

    upstream = torch.randn_like(dense_out)
    (out.features * upstream).sum().backward()  # needs the CUDA-stream shim on a CPU build
    (dense_out * upstream).sum().backward()
    torch.testing.assert_close(feats_sparse.grad, feats_dense.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(conv.weight.grad.permute(0, 4, 1, 2, 3), weight.grad,
                               rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(conv.bias.grad, bias.grad, rtol=1e-4, atol=1e-4)


def _scatter(feats, z, y, x, shape):
    """(V, C) features at integer (z, y, x) -> a dense (1, C, D, H, W) volume, differentiable."""
    dense = feats.new_zeros(*shape, feats.shape[1])
    dense = dense.index_put((z, y, x), feats)
    return dense.permute(3, 0, 1, 2).unsqueeze(0)


def test_spconv_stream_lookup_is_patched_on_cpu_builds():
    from spconv.pytorch import cppcore, hash as sp_hash, ops
    from fusion_moe.compat.spconv_cpu import _current_stream_or_null
    for module in (cppcore, ops, sp_hash):
        assert module.get_current_stream is _current_stream_or_null
    if not torch.cuda.is_available():
        assert cppcore.get_current_stream() == 0


def test_imagecorruptions_blurs_work_with_current_scikit_image():
    from imagecorruptions import corrupt
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
    for name in ('gaussian_blur', 'glass_blur'):
        out = np.asarray(corrupt(image, corruption_name=name, severity=2))
        assert out.shape == image.shape
        # Blurring lowers the high-frequency energy of a noise image.
        assert np.abs(np.diff(out.astype(float), axis=1)).mean() < \
            np.abs(np.diff(image.astype(float), axis=1)).mean()


def test_imagecorruptions_shim_translates_multichannel():
    import skimage.filters
    from fusion_moe.compat.imagecorruptions_skimage import _wrap
    image = np.random.default_rng(1).random((16, 16, 3))
    with pytest.raises(TypeError):  # what imagecorruptions runs into without the shim
        skimage.filters.gaussian(image, sigma=1.0, multichannel=True)
    wrapped = _wrap(skimage.filters.gaussian)
    np.testing.assert_allclose(wrapped(image, sigma=1.0, multichannel=True),
                               skimage.filters.gaussian(image, sigma=1.0, channel_axis=-1))
    assert _wrap(wrapped) is wrapped  # idempotent


def test_spconv_dense_scatters_features_to_their_voxels():
    """SparseConvTensor.dense() indexes with a list on spconv 2.3.8, which torch >= 2.9
    refuses; the shim (fusion_moe/compat/spconv_dense.py) makes it put each feature at its
    (batch, z, y, x)."""
    import spconv.pytorch as spconv
    indices, feats, occupied = _random_sparse_volume(seed=1)
    dense = spconv.SparseConvTensor(feats, indices, list(occupied.shape), 1).dense()
    assert dense.shape == (1, feats.shape[1], *occupied.shape)
    z, y, x = indices[:, 1].long(), indices[:, 2].long(), indices[:, 3].long()
    torch.testing.assert_close(dense[0].permute(1, 2, 3, 0)[z, y, x], feats)
    assert dense.abs().sum() == feats.abs().sum()  # zeros elsewhere
