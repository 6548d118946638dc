"""``python -m ese.board``: the make targets of the board flow (docs/boards.md).

::

    python -m ese.board build --board ulx3s|kv260 [--clock-mhz F] [--out DIR]   # make board
    python -m ese.board load --board ulx3s                                      # make board-load
    python -m ese.board sim --board ulx3s [--words yes,no,...]                  # make board-sim

Exit status: 0 done; 2 bad request or a missing tool/board/Vivado (one line
on stderr naming it and what to run); 1 a failed build (timing not met, a
tool error) or a simulation that is not bit-exact.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from .boards import BOARDS, BoardError


def _say(msg: str) -> None:
    print(msg, flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ese.board", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="the board's SoC: bitstream (ULX3S) or Vivado project")
    b.add_argument("--board", required=True, choices=list(BOARDS))
    b.add_argument("--clock-mhz", type=float, default=None,
                   help="SoC clock (default: the board's, ese.board.boards.SYS_CLK_HZ)")
    b.add_argument("--config", default=None, help="accelerator preset or JSON (default: the "
                                                  "board's preset)")
    b.add_argument("--out", default=None, help="build folder (default build/board/<board>)")
    ld = sub.add_parser("load", help="program the board with the built bitstream")
    ld.add_argument("--board", required=True, choices=list(BOARDS))
    s = sub.add_parser("sim", help="spoken words through the simulated SoC (the board's preset)")
    s.add_argument("--board", required=True, choices=list(BOARDS))
    s.add_argument("--words", default=None, help="comma-separated words of the vocabulary")
    a = ap.parse_args(argv)

    # LiteX logs the SoC it builds (a page of INFO lines) through logging, to stderr by
    # default: warnings only, on stdout, so that stderr holds nothing but the error line
    logging.basicConfig(stream=sys.stdout, level=logging.WARNING, force=True)
    t0 = time.time()
    try:
        from .sim import require_litex
        require_litex()
        if a.cmd == "build":
            from ese.config import ConfigError, load_config
            from . import build
            try:
                cfg = load_config(a.config) if a.config else None
            except ConfigError as e:
                raise BoardError(str(e)) from None
            build.build(a.board, cfg=cfg, out=a.out, say=_say,
                        sys_clk_hz=a.clock_mhz * 1e6 if a.clock_mhz else None)
        elif a.cmd == "load":
            from . import build
            build.load(a.board, say=_say)
        else:
            from . import demo
            return demo.run(a.board, a.words, say=_say)
    except BoardError as e:
        print(f"make board: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - one line, exit 1
        print(f"make board: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    _say(f"done in {(time.time() - t0) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
