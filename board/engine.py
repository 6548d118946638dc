"""The board engine: a bundle on a real or simulated board (``ese infer --engine board``).

:func:`run` connects to the board named by a URL (:func:`connect`), checks
that an ESE accelerator answers (the ID register) and reads its
configuration, then runs the host protocol (:class:`ese.rtlsim.host.Host`,
the same code as the RTL engine's): the memory image and the frames into
DRAM, LOAD + START, the interrupt, the outputs and the counters.  Its
stats are the RTL engine's (:func:`ese.rtlsim.engine._stats`), measured by
the accelerator's counters on the board.

URLs: ``tcp://HOST:PORT`` is a ``litex_server`` (the ULX3S over its UART
bridge, or the simulated SoC of ``make board-sim``); ``zynq`` is the PS of
the KV260 this runs on.

The board carries its own configuration: a bundle for another channel
count runs (the driver runs ``n_ch`` of the board's sequences a START), one
for another PE count, index or word layout is refused by the hardware
(CONFIG_MISMATCH) and reported as bad input.
"""

from __future__ import annotations

import numpy as np

from .boards import BoardError

#: the URL ``ese infer --engine board`` uses when none is given
DEFAULT_URL = "tcp://localhost:1234"


def connect(url: str):
    """The :class:`~ese.rtlsim.host.Bus` of ``url`` (module docstring)."""
    if url == "zynq":
        from .zynq import ZynqBus
        return ZynqBus()
    if url.startswith("tcp://"):
        try:
            from .remote import LitexBus
        except ImportError:
            raise BoardError("--engine board over tcp:// needs LiteX's client: "
                             "pip install -e '.[board]'") from None
        return LitexBus(url)
    raise BoardError(f"board URL {url!r}: use tcp://HOST:PORT (a litex_server) or zynq "
                     f"(on the KV260's PS)")


def run(bundle, x_q, *, url: str = DEFAULT_URL, progress=None):
    """Run integer frames ``x_q`` ((B, T, I) or (T, I)) of ``bundle`` (a Bundle) on the board.

    Returns ``(y_q, stats)`` like :func:`ese.rtlsim.engine.run`.  Raises
    :class:`BoardError` for an unreachable or wrong board, RuntimeError when
    the accelerator reports an error.
    """
    from ese import regmap
    from ese.rtlsim.engine import _stats
    from ese.rtlsim.host import Host, run_sync

    x = np.asarray(x_q)
    single = x.ndim == 2
    if single:
        x = x[None]
    bus = connect(url)
    try:
        hw = run_sync(Host(bus, bundle.cfg).identify())
        cfg = bundle.cfg.replace(n_ch=hw["n_ch"])
        if hw["n_pe"] != cfg.n_pe or hw["axi_bytes"] != cfg.axi_data_bits // 8:
            raise BoardError(f"the board at {url} has {hw['n_pe']} PEs and {hw['axi_bytes']}-"
                             f"byte AXI words; the bundle is for {cfg.n_pe} PEs and "
                             f"{cfg.axi_data_bits // 8}-byte words (configuration {cfg.name!r})")
        if progress:
            progress(f"board at {url}: {hw['n_ch']} channel(s) x {hw['n_pe']} PEs; "
                     f"{x.shape[0]} sequence(s) x {x.shape[1]} frames")
        y, runs = run_sync(Host(bus, cfg).infer(bundle.image, x.astype(np.int64),
                                                bundle.n_out, load=True, progress=progress))
    finally:
        bus.close()
    errs = [r["ERR_CODE"] for r in runs if r["ERROR"]]
    if errs:
        name = regmap.ERR_NAME.get(errs[0], "?")
        msg = f"the accelerator on the board reported error {errs[0]} ({name})"
        if name in ("CONFIG_MISMATCH", "MODEL_TOO_LARGE"):
            raise BoardError(f"{msg}: the bundle was built for another configuration than the "
                             f"board's")
        raise RuntimeError(msg)
    stats = _stats(bundle.manifest, cfg, x.shape[1], [r["CYCLES"] for r in runs],
                   [r["MAC"] for r in runs], [r["STALL"] for r in runs],
                   [r["LOAD_CYCLES"] for r in runs])
    stats["source"] = f"board {url}"
    return (y[0] if single else y), stats
