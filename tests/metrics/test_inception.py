"""The FID Inception-v3 against pytorch-fid 0.3.0: same state-dict keys, same features, same FID; weights-file errors.

The real weights are never needed: seeded random weights (with non-trivial BatchNorm statistics) are loaded into
gankit's network from a file and handed to pytorch-fid in place of its download.
"""

from __future__ import annotations

import hashlib
import sys
import warnings

import numpy as np
import pytest
import torch
from scipy.linalg import LinAlgWarning
from threadpoolctl import threadpool_limits

from gankit.errors import GankitError
from gankit.metrics.fid import feature_statistics, frechet_distance
from gankit.metrics.inception import WEIGHTS_ENV, WEIGHTS_NAME, FIDInceptionV3, inception_weights_path, inception_weights_sha256, load_inception
from tests.metrics.torchvision_stub import import_pytorch_fid, random_inception_weights, weights_from

# torchvision's Inception3 has 27,161,264 parameters; without its auxiliary classifier (3,326,696) and with 1008
# instead of 1000 classes (+8 × 2049) that is the FID network's count.
FID_INCEPTION_PARAMETERS = 27_161_264 - 3_326_696 + 8 * 2049


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One compute thread: on a shared 2-core machine two threads per process are several times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def oracle():
    return import_pytorch_fid()


@pytest.fixture(scope="module")
def random_weights() -> dict[str, torch.Tensor]:
    return random_inception_weights(2017)


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory, random_weights):
    path = tmp_path_factory.mktemp("inception") / WEIGHTS_NAME
    torch.save(random_weights, path)
    return path


@pytest.fixture(scope="module")
def networks(oracle, random_weights, weights_file):
    ours = load_inception(weights_file)
    with weights_from(oracle, random_weights):
        theirs = oracle.inception.InceptionV3([3]).eval()
    return ours, theirs


def theirs_features(model, images: torch.Tensor) -> torch.Tensor:
    """pytorch-fid's pool3 features as ``get_activations`` takes them."""
    with torch.no_grad():
        return model(images)[0].squeeze(3).squeeze(2)


def test_state_dict_keys_and_shapes_match_pytorch_fids_inception(oracle, random_weights):
    assert not any(name.split(".")[0] in ("torchvision", "pytorch_fid") for name in sys.modules)  # the stub is gone; gankit imports neither
    with weights_from(oracle, random_weights):
        theirs = oracle.inception.fid_inception_v3()  # loads the weights strictly, as it loads the real file
    ours = FIDInceptionV3()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    assert ours.state_dict()["Conv2d_1a_3x3.conv.weight"].shape == (32, 3, 3, 3)
    assert ours.state_dict()["fc.weight"].shape == (1008, 2048)
    assert "Mixed_5b.branch1x1.bn.running_mean" in ours.state_dict()
    assert sum(p.numel() for p in ours.parameters()) == FID_INCEPTION_PARAMETERS


def test_features_equal_pytorch_fid_with_resize_and_grey_images(networks):
    ours, theirs = networks
    g = torch.Generator().manual_seed(0)
    small = torch.rand(4, 3, 32, 32, generator=g)
    full = torch.rand(1, 3, 299, 299, generator=g)
    grey = torch.rand(1, 1, 28, 28, generator=g)
    for images, as_rgb in ((small, small), (full, full), (grey, grey.repeat(1, 3, 1, 1))):
        with torch.no_grad():
            features = ours(images)
        expected = theirs_features(theirs, as_rgb)
        assert features.shape == (len(images), 2048) and features.dtype == torch.float32
        assert features.std() > 0.5  # non-trivial features, so equality means something
        torch.testing.assert_close(features, expected, rtol=1e-5, atol=1e-5)


def test_frechet_distance_of_features_equals_pytorch_fids_pipeline(oracle, networks):
    """Images -> features -> (mu, sigma) -> FID, both ways. pytorch-fid's sqrtm at d = 2048 takes ~15 s, so the full
    width is in the slow test below; here the statistics are compared whole and the FID on the first 64 features."""
    ours, theirs = networks
    g = torch.Generator().manual_seed(1)
    first, second = torch.rand(4, 3, 32, 32, generator=g), torch.rand(4, 3, 32, 32, generator=g) ** 2
    with torch.no_grad():
        ours_stats = [feature_statistics(ours(x)) for x in (first, second)]
    theirs_acts = [theirs_features(theirs, x).numpy().astype(np.float64) for x in (first, second)]
    theirs_stats = [(a.mean(axis=0), np.cov(a, rowvar=False)) for a in theirs_acts]
    for (mu, sigma), (mu_t, sigma_t) in zip(ours_stats, theirs_stats, strict=True):
        np.testing.assert_allclose(mu, mu_t, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(sigma, sigma_t, rtol=1e-4, atol=1e-4)
    narrow = [feature_statistics(a[:, :64]) for a in theirs_acts]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # scipy >= 1.16 deprecates the sqrtm argument pytorch-fid passes
        warnings.simplefilter("ignore", LinAlgWarning)  # sqrtm's note that 4 samples in 64 dimensions give a singular product
        expected = oracle.fid_score.calculate_frechet_distance(*narrow[0], *narrow[1])
    assert frechet_distance(*narrow[0], *narrow[1]) == pytest.approx(expected, rel=1e-6)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:The `disp` argument is deprecated:DeprecationWarning", "ignore:Matrix is singular:scipy.linalg.LinAlgWarning")
def test_fid_end_to_end_at_2048_features_equals_pytorch_fid(oracle, networks):
    ours, theirs = networks
    g = torch.Generator().manual_seed(2)
    first, second = torch.rand(6, 3, 32, 32, generator=g), torch.rand(6, 3, 32, 32, generator=g) ** 2
    with torch.no_grad():
        value = frechet_distance(*feature_statistics(ours(first)), *feature_statistics(ours(second)))
    theirs_acts = [theirs_features(theirs, x).numpy().astype(np.float64) for x in (first, second)]
    expected = oracle.fid_score.calculate_frechet_distance(*[s for a in theirs_acts for s in (a.mean(axis=0), np.cov(a, rowvar=False))])
    assert value == pytest.approx(expected, rel=1e-6)


def test_input_checks(networks):
    ours, _ = networks
    with pytest.raises(GankitError, match="divide 8-bit images by 255"):
        ours(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(GankitError, match=r"\(x \+ 1\) / 2"):
        ours(torch.full((1, 3, 8, 8), -1.0))
    with pytest.raises(GankitError, match="not shape"):
        ours(torch.rand(1, 4, 8, 8))


def test_weights_path_comes_from_the_argument_or_the_environment(monkeypatch, tmp_path, weights_file):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    with pytest.raises(GankitError, match=WEIGHTS_NAME) as info:
        inception_weights_path(None)
    assert WEIGHTS_ENV in str(info.value) and "--inception-weights" in str(info.value)
    missing = tmp_path / "nowhere.pth"
    with pytest.raises(GankitError, match="does not exist") as info:
        inception_weights_path(missing)
    assert str(missing) in str(info.value) and WEIGHTS_NAME in str(info.value)
    monkeypatch.setenv(WEIGHTS_ENV, str(missing))
    with pytest.raises(GankitError, match=WEIGHTS_ENV):
        load_inception()
    monkeypatch.setenv(WEIGHTS_ENV, str(weights_file))
    assert inception_weights_path(None) == weights_file
    assert inception_weights_path(weights_file) == weights_file
    assert inception_weights_sha256() == hashlib.sha256(weights_file.read_bytes()).hexdigest()


def test_bad_weights_files_are_refused_in_one_line(tmp_path, random_weights):
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"this is not a torch file")
    not_a_dict = tmp_path / "tensor.pth"
    torch.save(torch.zeros(3), not_a_dict)
    wrong_keys = tmp_path / "wrong_keys.pth"
    torch.save({"module.fc.weight": torch.zeros(1008, 2048)}, wrong_keys)
    wrong_shape = tmp_path / "wrong_shape.pth"
    torch.save({**random_weights, "fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000)}, wrong_shape)
    cases = {corrupt: "not a readable PyTorch weights file", not_a_dict: "state dict", wrong_keys: "missing keys.*unexpected keys", wrong_shape: "wrong shapes"}
    for path, message in cases.items():
        with pytest.raises(GankitError, match=message) as info:
            load_inception(path)
        assert "\n" not in str(info.value) and WEIGHTS_NAME in str(info.value)


def test_files_without_batch_counters_load(tmp_path, random_weights, networks):
    """Files saved before BatchNorm counted its batches have no num_batches_tracked keys; pytorch-fid loads them too."""
    path = tmp_path / "old.pth"
    torch.save({k: v for k, v in random_weights.items() if not k.endswith("num_batches_tracked")}, path)
    model = load_inception(path)
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.equal(model(x), networks[0](x))
