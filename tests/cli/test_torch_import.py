"""``ese import-torch``: PyTorch ``nn.LSTM`` weights into the model file, checked
against torch's own forward, and every bad input (exit 2, one line)."""

from __future__ import annotations

import numpy as np
import pytest
import torch   # the test environment installs it (the dev extra)

from cli_run import assert_bad, run
from ese.model.lstm_float import run_float
from ese.model.modelfile import load_model


def torch_out(lstm, x):
    with torch.no_grad():
        y, _ = lstm(torch.from_numpy(x.astype(np.float32)))
    return y.numpy().astype(np.float64)


@pytest.mark.parametrize("layers,proj,bias", [(1, 0, True), (1, 5, False), (2, 6, True),
                                              (3, 0, False), (3, 4, True)])
def test_float_engine_matches_torch(tmp_path, capsys, layers, proj, bias):
    torch.manual_seed(layers * 10 + proj)
    lstm = torch.nn.LSTM(7, 12, num_layers=layers, proj_size=proj, bias=bias, batch_first=True)
    if bias:   # the two biases differ: the import must add them, not keep one
        with torch.no_grad():
            for k in range(layers):
                getattr(lstm, f"bias_hh_l{k}").uniform_(-1, 1)
    pt = tmp_path / "lstm.pt"
    torch.save(lstm.state_dict(), pt)
    rc, out, err = run(capsys, "import-torch", pt, "-o", tmp_path / "m.npz")
    assert rc == 0, err
    assert f"{layers} layer(s)" in out
    m = load_model(tmp_path / "m.npz")
    assert len(m.layers) == layers
    assert all(l.has_proj == (proj > 0) and not l.has_peep for l in m.layers)
    x = np.random.default_rng(layers).normal(size=(3, 9, 7))
    got = run_float(m, x)
    want = torch_out(lstm, x)
    assert got.shape == want.shape == (3, 9, proj or 12)
    assert np.max(np.abs(got - want)) < 1e-5


def test_prefix_and_checkpoint_dict(tmp_path, capsys):
    torch.manual_seed(1)

    class Enc(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.LSTM(4, 8, num_layers=2, proj_size=3, batch_first=True)
            self.fc = torch.nn.Linear(3, 2)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = Enc()
            self.other = torch.nn.LSTM(3, 5, batch_first=True)

    net = Net()
    pt = tmp_path / "ckpt.pt"
    torch.save({"model": net.state_dict(), "epoch": 3}, pt)
    rc, out, err = run(capsys, "import-torch", pt, "-o", tmp_path / "a.npz",
                       "--prefix", "model.enc.rnn.")
    assert rc == 0, err
    x = np.random.default_rng(0).normal(size=(2, 5, 4))
    assert np.max(np.abs(run_float(load_model(tmp_path / "a.npz"), x)
                         - torch_out(net.enc.rnn, x))) < 1e-5
    # two LSTMs and no prefix: ask for one
    assert_bad(capsys, "import-torch", pt, "-o", tmp_path / "b.npz", match="--prefix")
    line = assert_bad(capsys, "import-torch", pt, "-o", tmp_path / "b.npz", "--prefix", "enc.")
    assert "no lstm under prefix 'enc.'" in line.lower() and "model.enc.rnn." in line
    # a lone LSTM in a bigger model is found without a prefix
    torch.save(net.enc.state_dict(), tmp_path / "enc.pt")
    rc, _, err = run(capsys, "import-torch", tmp_path / "enc.pt", "-o", tmp_path / "c.npz")
    assert rc == 0, err


def test_pickled_module_needs_trust(tmp_path, capsys):
    torch.manual_seed(2)
    lstm = torch.nn.LSTM(4, 6, num_layers=2, batch_first=True)
    pt = tmp_path / "whole.pt"
    torch.save(lstm, pt)
    line = assert_bad(capsys, "import-torch", pt, "-o", tmp_path / "m.npz")
    assert "--trust-pickle" in line
    assert not (tmp_path / "m.npz").exists()
    rc, _, err = run(capsys, "import-torch", pt, "-o", tmp_path / "m.npz", "--trust-pickle")
    assert rc == 0, err
    x = np.random.default_rng(2).normal(size=(1, 4, 4))
    assert np.max(np.abs(run_float(load_model(tmp_path / "m.npz"), x)
                         - torch_out(lstm, x))) < 1e-5


def test_bad_inputs(tmp_path, capsys):
    out = tmp_path / "m.npz"
    # bidirectional (state_dict and pickled module)
    bi = torch.nn.LSTM(4, 6, bidirectional=True)
    torch.save(bi.state_dict(), tmp_path / "bi.pt")
    assert_bad(capsys, "import-torch", tmp_path / "bi.pt", "-o", out, match="bidirectional")
    torch.save(bi, tmp_path / "bi_whole.pt")
    assert_bad(capsys, "import-torch", tmp_path / "bi_whole.pt", "-o", out, "--trust-pickle",
               match="bidirectional")
    # GRU and plain RNN (state_dict and pickled module)
    gru = torch.nn.GRU(4, 6, num_layers=2)
    torch.save(gru.state_dict(), tmp_path / "gru.pt")
    assert_bad(capsys, "import-torch", tmp_path / "gru.pt", "-o", out, match="GRU")
    torch.save(gru, tmp_path / "gru_whole.pt")
    assert_bad(capsys, "import-torch", tmp_path / "gru_whole.pt", "-o", out, "--trust-pickle",
               match="GRU")
    torch.save(torch.nn.RNN(4, 6).state_dict(), tmp_path / "rnn.pt")
    assert_bad(capsys, "import-torch", tmp_path / "rnn.pt", "-o", out, match="RNN")
    # no LSTM at all
    torch.save(torch.nn.Linear(3, 2).state_dict(), tmp_path / "lin.pt")
    assert_bad(capsys, "import-torch", tmp_path / "lin.pt", "-o", out, match="no LSTM")
    # shapes that do not make an LSTM
    sd = torch.nn.LSTM(4, 6, proj_size=3).state_dict()
    bad = dict(sd, weight_hh_l0=torch.zeros(24, 5))
    torch.save(bad, tmp_path / "shape1.pt")
    assert_bad(capsys, "import-torch", tmp_path / "shape1.pt", "-o", out, match="weight_hh_l0")
    bad = dict(sd, weight_ih_l0=torch.zeros(23, 4))
    torch.save(bad, tmp_path / "shape2.pt")
    assert_bad(capsys, "import-torch", tmp_path / "shape2.pt", "-o", out,
               match="do not make an LSTM")
    sd2 = torch.nn.LSTM(4, 6, num_layers=2).state_dict()
    torch.save(dict(sd2, weight_ih_l1=torch.zeros(24, 5)), tmp_path / "layers.pt")
    assert_bad(capsys, "import-torch", tmp_path / "layers.pt", "-o", out, match="layer 0")
    torch.save({k: v for k, v in sd2.items() if not k.endswith("_l0")}, tmp_path / "gap.pt")
    assert_bad(capsys, "import-torch", tmp_path / "gap.pt", "-o", out, match="missing")
    torch.save({k: v for k, v in sd.items() if k != "bias_hh_l0"}, tmp_path / "bias.pt")
    assert_bad(capsys, "import-torch", tmp_path / "bias.pt", "-o", out, match="bias_hh_l0")
    torch.save({k: v.to(torch.int32) for k, v in sd.items()}, tmp_path / "int.pt")
    assert_bad(capsys, "import-torch", tmp_path / "int.pt", "-o", out, match="dtype")
    # not a torch file, empty, missing, a NumPy array, a folder
    (tmp_path / "text.pt").write_text("hello world")
    assert_bad(capsys, "import-torch", tmp_path / "text.pt", "-o", out, match="text.pt")
    (tmp_path / "empty.pt").write_bytes(b"")
    assert_bad(capsys, "import-torch", tmp_path / "empty.pt", "-o", out, match="empty")
    assert_bad(capsys, "import-torch", tmp_path / "nope.pt", "-o", out, match="not found")
    np.save(tmp_path / "arr.npy", np.zeros(3))
    assert_bad(capsys, "import-torch", tmp_path / "arr.npy", "-o", out, match="NumPy")
    assert_bad(capsys, "import-torch", tmp_path, "-o", out, match="folder")
    # a bad output path fails before reading
    torch.save(sd, tmp_path / "ok.pt")
    assert_bad(capsys, "import-torch", tmp_path / "ok.pt", "-o", tmp_path / "no" / "m.npz",
               match="does not exist")
    assert not out.exists()


def test_half_precision_weights(tmp_path, capsys):
    torch.manual_seed(3)
    lstm = torch.nn.LSTM(4, 6, proj_size=2, batch_first=True).half()
    torch.save(lstm.state_dict(), tmp_path / "h.pt")
    rc, _, err = run(capsys, "import-torch", tmp_path / "h.pt", "-o", tmp_path / "m.npz")
    assert rc == 0, err
    m = load_model(tmp_path / "m.npz")
    assert np.array_equal(m.layers[0].wx, lstm.weight_ih_l0.detach().double().numpy())
