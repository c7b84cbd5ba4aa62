"""Tests for batched pad-crop, flip and cutout (nas_sepconv.evaluation.augment)."""
import pytest
import torch
import torch.nn.functional as F

from nas_sepconv.evaluation.augment import Augmentation, cutout, cutout_mask, hflip, random_crop, random_hflip


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def batch(n: int = 16, c: int = 3, h: int = 8, w: int = 10) -> torch.Tensor:
    return torch.arange(1, n * c * h * w + 1, dtype=torch.float32).view(n, c, h, w)


@pytest.mark.parametrize("op", [
    lambda x, g: random_crop(x, 2, g),
    lambda x, g: random_hflip(x, g),
    lambda x, g: cutout(x, 3, g),
    Augmentation(padding=2, flip=True, cutout=3),
])
def test_shape_kept_and_same_seed_same_result(op):
    x = batch()
    out = op(x, gen(5))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.equal(out, op(x, gen(5)))
    assert not torch.equal(out, op(x, gen(6)))


def test_flip_twice_is_identity_and_mirrors_columns():
    x = batch()
    assert torch.equal(hflip(hflip(x)), x)
    assert torch.equal(hflip(x)[..., 0], x[..., -1])
    once = random_hflip(x, gen(3))
    assert torch.equal(random_hflip(once, gen(3)), x)
    flipped = [i for i in range(len(x)) if not torch.equal(once[i], x[i])]
    assert 0 < len(flipped) < len(x)
    assert all(torch.equal(once[i], x[i].flip(-1)) for i in flipped)


def test_flip_probability_extremes():
    x = batch()
    assert torch.equal(random_hflip(x, gen(), p=1.0), hflip(x))
    assert torch.equal(random_hflip(x, gen(), p=0.0), x)
    with pytest.raises(ValueError, match="`p`"):
        random_hflip(x, gen(), p=1.5)


def test_crop_padding_zero_is_identity():
    x = batch()
    assert torch.equal(random_crop(x, 0, gen()), x)


def test_crop_is_a_window_of_the_zero_padded_image():
    p, x = 2, batch(n=32)
    out = random_crop(x, p, gen(1))
    padded = F.pad(x, (p,) * 4)
    offsets = set()
    for i in range(len(x)):
        hits = [(dy, dx) for dy in range(2 * p + 1) for dx in range(2 * p + 1)
                if torch.equal(out[i], padded[i, :, dy:dy + 8, dx:dx + 10])]
        assert len(hits) == 1
        offsets.add(hits[0])
    assert len(offsets) > 5  # offsets really vary over the batch


@pytest.mark.parametrize("channels", [1, 3])
def test_crop_gives_plain_nchw_strides_even_for_one_channel(channels):
    """One channel (digits): .contiguous() would keep the crop's channels-last strides, and a
    network fed them trains channels-last (which crashed torch 2.13's CPU backward of a ResNet)."""
    x = batch(c=channels)
    out = Augmentation(padding=1, flip=True)(x, gen())
    assert out.stride() == torch.empty(out.shape).stride()


def _expected_mask(h, w, size, cy, cx):
    return torch.tensor([[cy - size // 2 <= y < cy - size // 2 + size and cx - size // 2 <= x < cx - size // 2 + size
                          for x in range(w)] for y in range(h)])


@pytest.mark.parametrize("size,cy,cx,area", [(4, 5, 5, 16), (4, 0, 0, 4), (3, 9, 0, 4), (5, 9, 9, 9), (20, 3, 3, 100)])
def test_cutout_mask_square_clipped_at_borders(size, cy, cx, area):
    mask = cutout_mask((1, 3, 10, 10), size, torch.tensor([[cy, cx]]))
    assert mask.shape == (1, 1, 10, 10)
    assert int(mask.sum()) == area
    assert torch.equal(mask[0, 0], _expected_mask(10, 10, size, cy, cx))


def test_cutout_zeros_a_clipped_square_in_every_channel():
    size, x = 4, torch.ones(64, 3, 12, 12)
    out = cutout(x, size, gen(2))
    for img in out:
        zero = img == 0
        assert torch.equal(zero[0], zero[1]) and torch.equal(zero[0], zero[2])
        rows, cols = zero[0].any(1).nonzero().flatten(), zero[0].any(0).nonzero().flatten()
        height, width = len(rows), len(cols)
        assert int(zero[0].sum()) == height * width  # a filled rectangle
        assert rows.diff().eq(1).all() and cols.diff().eq(1).all()
        for length, idx in ((height, rows), (width, cols)):
            touches_border = idx[0] == 0 or idx[-1] == 11
            assert length == size or (touches_border and 0 < length < size)
    assert (out == 0).any(dim=(1, 2, 3)).all()


def test_augmentation_order_and_switches():
    x = batch()
    assert torch.equal(Augmentation()(x, gen()), x)
    assert torch.equal(Augmentation(flip=True)(x, gen(4)), random_hflip(x, gen(4)))
    g = gen(7)
    expected = cutout(random_hflip(random_crop(x, 1, g), g), 2, g)
    assert torch.equal(Augmentation(padding=1, flip=True, cutout=2)(x, gen(7)), expected)


@pytest.mark.parametrize("kwargs,arg", [({"padding": -1}, "padding"), ({"cutout": 1.5}, "cutout"),
                                        ({"flip": 1}, "flip")])
def test_augmentation_rejects_bad_settings(kwargs, arg):
    with pytest.raises(ValueError, match=f"`{arg}`"):
        Augmentation(**kwargs)


def test_ops_reject_non_batches():
    with pytest.raises(ValueError, match="`x` must be an NCHW tensor"):
        cutout(torch.ones(3, 8, 8), 2, gen())
    with pytest.raises(ValueError, match="`size`"):
        cutout(batch(), 0, gen())
