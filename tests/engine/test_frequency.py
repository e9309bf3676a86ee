"""FreeMorph's Fourier noise injection (inbetween.frequency) against a NumPy float64 computation written from the
definition, and its limiting cases."""

import numpy as np
import pytest
import torch

from inbetween.errors import ArgumentError
from inbetween.frequency import replace_high_frequencies, window_half_widths


def numpy_reference(x: np.ndarray, y: np.ndarray, k_h: int, k_w: int) -> np.ndarray:
    """Keep x's shifted spectrum on rows H//2-k_h .. H//2+k_h-1 and columns likewise, y's elsewhere."""
    h, w = x.shape[-2:]
    fx = np.fft.fftshift(np.fft.fft2(x), axes=(-2, -1))
    fy = np.fft.fftshift(np.fft.fft2(y), axes=(-2, -1))
    mixed = fy.copy()
    mixed[..., h // 2 - k_h : h // 2 + k_h, w // 2 - k_w : w // 2 + k_w] = \
        fx[..., h // 2 - k_h : h // 2 + k_h, w // 2 - k_w : w // 2 + k_w]
    return np.real(np.fft.ifft2(np.fft.ifftshift(mixed, axes=(-2, -1))))


@pytest.mark.parametrize("shape, keep", [((2, 4, 16, 16), 0.875), ((1, 4, 12, 20), 0.5), ((3, 8, 9), 0.3)])
def test_matches_numpy_definition(shape, keep):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(shape, dtype=torch.float64, generator=generator)
    y = torch.randn((1, *shape[1:]), dtype=torch.float64, generator=generator)
    k_h, k_w = window_half_widths(shape[-2], shape[-1], keep)
    expected = numpy_reference(x.numpy(), np.broadcast_to(y.numpy(), shape), k_h, k_w)
    torch.testing.assert_close(replace_high_frequencies(x, y, keep), torch.from_numpy(expected), rtol=0, atol=1e-12)


def test_freemorph_window_at_96():
    assert window_half_widths(96, 96, 0.875) == (42, 42)
    assert window_half_widths(96, 96, 44 / 48) == (44, 44)


def test_keep_everything_gives_x_and_nothing_gives_y():
    generator = torch.Generator().manual_seed(1)
    x, y = torch.randn(2, 4, 8, 8, generator=generator), torch.randn(2, 4, 8, 8, generator=generator)
    torch.testing.assert_close(replace_high_frequencies(x, y, 1.0), x, rtol=0, atol=1e-5)
    torch.testing.assert_close(replace_high_frequencies(x, y, 0.0), y, rtol=0, atol=1e-5)


def test_inputs_untouched_and_dtype_kept():
    x, y = torch.randn(1, 4, 8, 8).half(), torch.randn(1, 4, 8, 8).half()
    x0, y0 = x.clone(), y.clone()
    out = replace_high_frequencies(x, y, 0.5)
    assert out.dtype == torch.float16 and torch.equal(x, x0) and torch.equal(y, y0)


def test_bad_input_is_named():
    with pytest.raises(ArgumentError, match="keep"):
        replace_high_frequencies(torch.zeros(1, 4, 4), torch.zeros(1, 4, 4), 1.5)
    with pytest.raises(ArgumentError) as err:
        replace_high_frequencies(torch.zeros(1, 4, 4), torch.zeros(2, 4, 4), 0.5)
    assert err.value.argument == "y"
    with pytest.raises(ArgumentError) as err:
        replace_high_frequencies(torch.zeros(4), torch.zeros(4), 0.5)
    assert err.value.argument == "x"
