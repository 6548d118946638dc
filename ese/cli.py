"""The ``ese`` command line (docs/cli.md): argument parsing and error mapping over :mod:`ese.app`.

::

    ese random-model -o MODEL.npz --input I --cells H [--proj P] [--layers L] [--no-peephole] [--seed S]
    ese compress MODEL.npz -o BUNDLE_DIR [--config PRESET_OR_FILE] [--density D] [--no-balance]
    ese infer MODEL_OR_BUNDLE INPUT.npy -o OUTPUT.npy [--engine float|fixed|rtl|board]
              [--sim verilator|icarus] [--stats STATS.json] [--waves] [--board-url URL]
    ese report BUNDLE_DIR [--json | --plot FILE.png [--source MODEL.npz]]
    ese verilog [--config PRESET_OR_FILE] -o DIR
    ese import-torch MODEL.pt -o MODEL.npz [--prefix PREFIX] [--trust-pickle]
    ese transcribe WAV... [--engine float|fixed|rtl|board] [--model SPEECH_MODEL_DIR] [--json]
              [--board-url URL]
    ese doctor [--json]

Exit status: 0 success; 2 bad input or usage, or a missing extra or system
tool (one line ``ese: error: ...`` on stderr, naming the install command for
a missing dependency (:mod:`ese.deps`), never a traceback); 1 internal
failure (one line; ``ESE_DEBUG=1`` prints the traceback).  Progress goes to
stderr only when stderr is a terminal or ``--progress`` is given.

The work is done by the application API (:class:`ese.app.Model`); a command
here checks its arguments, calls the API and prints the result.  Adding a
command: write ``cmd_<name>(args) -> int`` and ``_args_<name>(parser)`` and
add a line to :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from ese.config import PRESETS, ConfigError, load_config

PROG = "ese"


class UsageError(ValueError):
    """A bad combination of arguments or inputs detected by the CLI itself."""


# ----------------------------------------------------------------------------- helpers
def _one_line(msg) -> str:
    return " ".join(str(msg).split())


class Progress:
    """Plain text progress lines on stderr (only on a terminal or when forced)."""

    def __init__(self, what: str, force: bool = False):
        self.what = what
        self.enabled = force or (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())
        self.t0 = time.monotonic()

    def __call__(self, msg: str) -> None:
        if self.enabled:
            dt = time.monotonic() - self.t0
            sys.stderr.write(f"{PROG} {self.what}: [{dt:6.1f} s] {msg}\n")
            sys.stderr.flush()


def _check_output_file(path: str, what: str) -> Path:
    """Fail early (before long work) if ``path`` cannot be written."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise UsageError(f"{what} {p} is a folder, expected a file name")
    if not parent.is_dir():
        raise UsageError(f"cannot write {what} {p}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"cannot write {what} {p}: folder {parent} is not writable")
    return p


def _config(spec):
    return load_config(spec)


def _model_errors():
    """Exception classes that mean 'bad input' or 'install this first' (rc 2)."""
    from ese.app import BAD_INPUT
    from ese.deps import MissingDependency
    from ese.plots import PlotError
    return (UsageError, PlotError, MissingDependency) + BAD_INPUT


def _add_config(p, help_text: str) -> None:
    p.add_argument("--config", default=None, metavar="PRESET_OR_FILE", help=help_text)


def _add_board_url(p) -> None:
    """``--board-url`` of --engine board (issue 19)."""
    p.add_argument("--board-url", default=None, metavar="URL",
                   help="--engine board: tcp://HOST:PORT of a litex_server (default "
                        "tcp://localhost:1234) or zynq (on the KV260's PS); docs/boards.md")


def _add_progress(p) -> None:
    p.add_argument("--progress", action="store_true", help="progress on stderr even if not a TTY")


# ----------------------------------------------------------------------------- commands
def _args_random_model(r) -> None:
    r.add_argument("-o", "--output", required=True, metavar="MODEL.npz")
    r.add_argument("--input", type=int, required=True, metavar="I", help="input width")
    r.add_argument("--cells", type=int, required=True, metavar="H", help="LSTM cells per layer")
    r.add_argument("--proj", type=int, default=None, metavar="P", help="projection width")
    r.add_argument("--layers", type=int, default=1, metavar="L")
    r.add_argument("--no-peephole", action="store_true", help="no peephole connections")
    r.add_argument("--seed", type=int, default=0, metavar="S")


def cmd_random_model(args) -> int:
    from ese.model.modelfile import random_model, save_model
    out = _check_output_file(args.output, "model file")
    m = random_model(args.input, args.cells, proj=args.proj, layers=args.layers,
                     peephole=not args.no_peephole, seed=args.seed)
    save_model(m, out)
    written = out if str(out).endswith(".npz") else Path(str(out) + ".npz")
    l0 = m.layers[0]
    print(f"wrote {written}: {len(m.layers)} layer(s), input {l0.n_in}, cells {l0.n_cells}, "
          f"output {m.n_out}, {'projection' if l0.has_proj else 'no projection'}, "
          f"{'peepholes' if l0.has_peep else 'no peepholes'}")
    return 0


def _args_compress(c) -> None:
    c.add_argument("model", metavar="MODEL.npz")
    c.add_argument("-o", "--output", required=True, metavar="BUNDLE_DIR")
    _add_config(c, f"preset ({', '.join(PRESETS)}) or JSON file; default tiny")
    c.add_argument("--density", type=float, default=0.112, metavar="D",
                   help="fraction of weights kept, in (0, 1] (default 0.112)")
    c.add_argument("--no-balance", action="store_true",
                   help="global magnitude pruning instead of load-balance-aware")
    _add_progress(c)


def cmd_compress(args) -> int:
    from ese.app import Model
    from ese.model.modelfile import load_model
    cfg = _config(args.config)
    if not (0.0 < args.density <= 1.0) or math.isnan(args.density):
        raise UsageError(f"--density must be in (0, 1], got {args.density:g}")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise UsageError(f"bundle output {out} exists and is not a folder")
    prog = Progress("compress", args.progress)
    prog(f"loading {args.model}")
    fm = load_model(args.model)
    m = Model.compress(fm, cfg, density=args.density, balance=not args.no_balance, progress=prog)
    prog(f"writing {out}")
    m.save(out)
    man = m.bundle.manifest
    est = man["estimate"]
    nnz = sum(mat["nnz"] for mat in man["matrices"])
    print(f"wrote bundle {out}: config {cfg.name!r}, {len(man['matrices'])} matrices, "
          f"{nnz} non-zeros, image {len(m.bundle.image)} bytes, estimated "
          f"{est['cycles_per_frame']:.0f} cycles/frame (utilization {est['utilization']:.2f})")
    return 0


def _args_infer(i) -> None:
    from ese.app import ENGINES, SIMS
    i.add_argument("model", metavar="MODEL_OR_BUNDLE")
    i.add_argument("input", metavar="INPUT.npy")
    i.add_argument("-o", "--output", required=True, metavar="OUTPUT.npy")
    i.add_argument("--engine", choices=ENGINES, default=None,
                   help="float (model file default), fixed (bundle default), rtl or board")
    i.add_argument("--sim", choices=SIMS, default="verilator")
    i.add_argument("--stats", default=None, metavar="STATS.json",
                   help="write cycle statistics (cycle model, or measured for rtl)")
    i.add_argument("--waves", action="store_true", help="dump waveforms (rtl)")
    _add_board_url(i)
    _add_config(i, "configuration for --stats of a float model file (default tiny)")
    _add_progress(i)


def cmd_infer(args) -> int:
    from ese.app import Model
    from ese.model.bundle import is_bundle
    from ese.model.modelfile import load_model, read_input

    out = _check_output_file(args.output, "output")
    if args.stats:
        _check_output_file(args.stats, "stats file")
    prog = Progress("infer", args.progress)
    src = Path(args.model)
    if is_bundle(src):
        model = Model.load(src)
        if args.config is not None:
            raise UsageError("--config applies to float model files only; a bundle carries "
                             "its own configuration")
    else:
        engine = args.engine or "float"
        if engine != "float":
            if not src.exists():
                raise UsageError(f"model or bundle {src} not found")
            raise UsageError(f"--engine {engine} needs a bundle folder (run 'ese compress' "
                             f"first); a float model file {src} runs only with --engine float")
        model = Model.from_float(load_model(src), _config(args.config))

    src_in = Path(args.input)
    r = model.infer(read_input(src_in), args.engine, sim=args.sim, waves=args.waves,
                    progress=prog, source=str(src_in), board_url=args.board_url)
    np.save(out, r.y)
    written = out if str(out).endswith(".npy") else Path(str(out) + ".npy")
    if args.stats:
        Path(args.stats).write_text(json.dumps(r.stats, indent=1) + "\n")
    print(f"wrote {written}: shape {tuple(r.y.shape)} float32 (engine {r.engine})")
    for w in r.waveforms:
        print(f"wrote waveform {w}")
    return 0


def _pe_range(v) -> str:
    return f"{min(v)}-{max(v)}" if v else "-"


def _args_report(rp) -> None:
    rp.add_argument("bundle", metavar="BUNDLE_DIR")
    rp.add_argument("--json", action="store_true", help="machine-readable JSON")
    rp.add_argument("--plot", default=None, metavar="FILE.png",
                    help="instead of the report, plot the entries and fillers of every PE "
                         "(needs matplotlib)")
    rp.add_argument("--source", default=None, metavar="MODEL.npz",
                    help="with --plot: the float model the bundle was compressed from, to "
                         "compare with the other pruning (load-balanced vs global magnitude)")


def _report_plot(args) -> int:
    """``ese report --plot``: the per-PE load of the bundle (ese/plots.py)."""
    from ese import plots
    from ese.app import Model
    from ese.model.modelfile import load_model
    name = args.plot if args.plot.endswith(".png") else args.plot + ".png"
    out = _check_output_file(name, "plot file")
    plots.require_matplotlib()
    bundle = Model.load(args.bundle).bundle
    source = load_model(args.source) if args.source else None
    load = plots.pe_load(bundle, source, source_name=str(args.source))
    plots.plot_pe_load(load, out)
    print(f"wrote {out}")
    return 0


def cmd_report(args) -> int:
    from ese.app import Model
    if args.plot is not None:
        if args.json:
            raise UsageError("--plot and --json do not go together: --plot writes a picture "
                             "instead of the report")
        return _report_plot(args)
    if args.source is not None:
        raise UsageError("--source applies to --plot only")
    s = Model.load(args.bundle).summary()
    if args.json:
        print(json.dumps(s, indent=1))
        return 0
    c = s["config"]
    est = s["estimate"]
    lines = [f"bundle {s['bundle']}",
             f"config {c['name']!r}: {c['n_ch']} channel(s) x {c['n_pe']} PEs, "
             f"weights {c['weight_bits']} bit + index {c['index_bits']} bit, "
             f"act ({c['act_bits']},{c['act_frac']}), entry depth {c['pe_entry_depth']}, "
             f"ew_lanes {c['ew_lanes']}",
             f"model: input {s['model']['n_in']}, output {s['model']['n_out']}, "
             f"{s['model']['n_layers']} layer(s)"]
    if s.get("compression"):
        cp = s["compression"]
        lines.append(f"compression: density {cp['density']:g}, "
                     f"{'load-balanced' if cp['balance'] else 'global magnitude'} pruning")
    for l in s["layers"]:
        lines.append(f"layer {l['layer']}: I {l['n_in']}, H {l['n_cells']}, P {l['n_out']}, "
                     f"peepholes {'yes' if l['peephole'] else 'no'}, "
                     f"projection {'yes' if l['projection'] else 'no'}, "
                     f"shift_x {l['shift_x']}, shift_r {l['shift_r']}, s_acc {l['s_acc']}")
    hdr = ("matrix", "rows", "cols", "nnz", "density", "fillers", "nnz/PE", "entries/PE", "frac")
    rows = [hdr]
    for m in s["matrices"]:
        rows.append((m["name"], str(m["rows"]), str(m["cols"]), str(m["nnz"]),
                     f"{m['density']:.4f}", str(m["fillers"]), _pe_range(m["nnz_per_pe"]),
                     _pe_range(m["entries_per_pe"]), str(m["weight_frac"])))
    w = [max(len(r[i]) for r in rows) for i in range(len(hdr))]
    lines.append("")
    for r in rows:
        lines.append("  ".join(v.rjust(w[i]) if i else v.ljust(w[i]) for i, v in enumerate(r)))
    lines.append("")
    tot_pe = s["pes"]["entries"] if s.get("pes") else []
    if tot_pe:
        lines.append(f"entries per PE (all matrices): {_pe_range(tot_pe)} of "
                     f"{s['pes']['entry_depth']}; pointers {s['pes']['ptrs']} of "
                     f"{s['pes']['ptr_depth']}; image {s['image']['bytes']} bytes")
    lines.append(f"estimated cycles/frame {est['cycles_per_frame']:.0f} "
                 f"(ideal {est['ideal_cycles_per_frame']:.1f}), utilization "
                 f"{est['utilization']:.3f}, latency {est['latency_us_at_200mhz']:.2f} us "
                 f"at 200 MHz, {est['effective_gops']:.1f} GOPS effective")
    print("\n".join(lines))
    return 0


def _args_verilog(v) -> None:
    _add_config(v, None)
    v.add_argument("-o", "--output", required=True, metavar="DIR")


def cmd_verilog(args) -> int:
    cfg = _config(args.config)
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise UsageError(f"output {out} exists and is not a folder")
    from ese import deps
    deps.require_extra("hdl", "ese verilog")
    from ese.hdl import convert  # MyHDL: imported only for this command

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create output folder {out}: {e.strerror}") from None
    files = convert.convert_all(cfg, out)
    print(f"wrote {len(files)} Verilog file(s) for configuration {cfg.name!r} to {out}")
    return 0


def _args_import_torch(t) -> None:
    t.add_argument("model", metavar="MODEL.pt")
    t.add_argument("-o", "--output", required=True, metavar="MODEL.npz")
    t.add_argument("--prefix", default=None, metavar="PREFIX",
                   help="the LSTM's key prefix in a bigger state_dict, e.g. 'enc.rnn.' "
                        "(default: the only LSTM found)")
    t.add_argument("--trust-pickle", action="store_true",
                   help="also read a pickled whole module (unpickling runs code from the file)")


def cmd_import_torch(args) -> int:
    from ese.model.modelfile import save_model
    from ese.model.torch_import import load_torch
    out = _check_output_file(args.output, "model file")
    m = load_torch(args.model, prefix=args.prefix, trust_pickle=args.trust_pickle)
    save_model(m, out)
    written = out if str(out).endswith(".npz") else Path(str(out) + ".npz")
    l0 = m.layers[0]
    print(f"wrote {written}: {len(m.layers)} layer(s), input {l0.n_in}, cells {l0.n_cells}, "
          f"output {m.n_out}, {'projection' if l0.has_proj else 'no projection'}")
    return 0


def _args_transcribe(w) -> None:
    from ese.app import ENGINES, SIMS
    w.add_argument("wav", nargs="+", metavar="WAV")
    w.add_argument("--engine", choices=ENGINES, default=None,
                   help="fixed (default for a compressed model), float, rtl or board")
    w.add_argument("--model", default=None, metavar="SPEECH_MODEL_DIR",
                   help="speech model folder (default: the project's trained model)")
    w.add_argument("--json", action="store_true", help="JSON list with the class scores")
    w.add_argument("--sim", choices=SIMS, default="verilator")
    _add_board_url(w)
    _add_progress(w)


def cmd_transcribe(args) -> int:
    from ese.speech.transcribe import transcribe_files
    prog = Progress("transcribe", args.progress)
    results, summary = transcribe_files(args.wav, model_path=args.model, engine=args.engine,
                                        sim=args.sim, progress=prog,
                                        board_url=args.board_url)
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for r in results:
            print(f"{r['file']} {r['word']}")
    prog(f"{summary['files']} utterance(s) in {summary['seconds']:.2f} s "
         f"({summary['utterances_per_second']:.1f}/s, engine {summary['engine']})")
    return 0


def _args_doctor(d) -> None:
    d.add_argument("--json", action="store_true", help="the same as one JSON object")


def cmd_doctor(args) -> int:
    from ese import deps
    return deps.doctor_main(as_json=args.json)


# ----------------------------------------------------------------------------- parser
#: (name, help, add the arguments, run): one line per command, in ``ese --help`` order
COMMANDS = [
    ("random-model", "write a random float model (.npz)", _args_random_model, cmd_random_model),
    ("compress", "prune, quantize and encode a model into a bundle", _args_compress,
     cmd_compress),
    ("infer", "run a float model or a bundle on input frames", _args_infer, cmd_infer),
    ("report", "summarize a bundle", _args_report, cmd_report),
    ("verilog", "generate the Verilog of a configuration", _args_verilog, cmd_verilog),
    ("import-torch", "convert a PyTorch nn.LSTM (torch.save) to a model file",
     _args_import_torch, cmd_import_torch),
    ("transcribe", "recognize spoken words in WAV files", _args_transcribe, cmd_transcribe),
    ("doctor", "which extras, simulators and system tools are installed, and what a "
     "missing one disables", _args_doctor, cmd_doctor),
]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="ESE sparse LSTM accelerator tools "
                                "(model compression, inference engines, RTL generation).")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text, add_args, func in COMMANDS:
        c = sub.add_parser(name, help=help_text)
        add_args(c)
        c.set_defaults(func=func)
    return p


def _missing_dependency(e: BaseException):
    """The install line for an optional package missing where no check caught it, else None."""
    if not isinstance(e, ModuleNotFoundError):
        return None
    from ese.deps import missing_module_message
    return missing_module_message(e)


def _error(msg: str) -> None:
    sys.stderr.write(f"{PROG}: error: {_one_line(msg)}\n")
    sys.stderr.flush()


def main(argv=None) -> int:
    """Run the command line; returns the exit status (0, 1 or 2)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:           # usage errors (2) and --help (0)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    debug = os.environ.get("ESE_DEBUG", "") not in ("", "0")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:           # e.g. `ese report --json | head`: not an error
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 0
    except Exception as e:  # noqa: BLE001 - the one place that maps exceptions to rc
        try:
            bad_input = _model_errors()
        except Exception:   # noqa: BLE001
            bad_input = (UsageError, ConfigError)
        if isinstance(e, bad_input):
            if debug:
                traceback.print_exc()
            _error(str(e))
            return 2
        if isinstance(e, OSError):
            if debug:
                traceback.print_exc()
            what = e.strerror or str(e)
            _error(f"{e.filename}: {what}" if e.filename else what)
            return 2
        missing = _missing_dependency(e)
        if missing:
            if debug:
                traceback.print_exc()
            _error(missing)
            return 2
        if debug:
            traceback.print_exc()
            _error(f"internal error: {type(e).__name__}: {e}")
        else:
            sys.stderr.write(f"{PROG}: internal error: {_one_line(f'{type(e).__name__}: {e}')} "
                             f"(set ESE_DEBUG=1 for the traceback)\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
