"""The simulated SoC: LiteX's own Verilator simulation, driven through ``litex_server``.

:func:`build` elaborates :func:`ese.board.soc.sim_soc` for a configuration
(the core's Verilog converted by ``ese.hdl``), lets LiteX write the
simulation (``gateware/``: the SoC's Verilog, the C++ harness, the
simulator modules) and compiles it with the project's Verilator.  The build
is cached in ``build/board/sim/<config key>/`` (the key hashes the
configuration, the hardware sources and this package): a second call costs
nothing.

:class:`SimulatedSoC` runs it: the simulator (``obj_dir/Vsim``) with its
``serial2tcp`` module listening on a free local port, and a ``litex_server``
connected to that port as it would be to a board's USB serial (pyserial's
``socket://`` URL): the host driver connects to ``tcp://127.0.0.1:<port>``
exactly as to a board.  Both processes are stopped on exit, their output in
``sim.log`` and ``server.log`` of the build folder.
"""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from ese.rtlsim.build import BUILD as TB_BUILD
from ese.rtlsim.build import simulator_env

from .boards import SYS_CLK_HZ, BoardError
from .tools import convert_core, run_logged

#: where the simulations are built (one folder per configuration), next to ``build/tb``
SIM_BUILD = TB_BUILD.parent / "board" / "sim"


def source_hash(cfg) -> str:
    """Hash of what a build depends on: the configuration, hdl/ and the SoC's description."""
    import ese.hdl
    h = hashlib.sha1(json.dumps(cfg.to_dict(), sort_keys=True).encode())
    here = Path(__file__).resolve().parent
    files = sorted(Path(ese.hdl.__file__).resolve().parent.rglob("*.py")) + \
        [here / f for f in ("boards.py", "soc.py", "sim.py", "tools.py")]
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def build(cfg, say=print) -> Path:
    """Build (once) the simulated SoC of ``cfg``; return its folder (``gateware/obj_dir/Vsim``)."""
    from litex.build.sim.config import SimConfig
    from litex.soc.integration.builder import Builder

    from .soc import sim_soc

    out = SIM_BUILD / f"{cfg.name}-{source_hash(cfg)}"
    exe = out / "gateware" / "obj_dir" / "Vsim"
    if exe.exists():
        return out
    t0 = time.time()
    say(f"building the simulated SoC for {cfg.name!r} in {out} (once per configuration)")
    sources = convert_core(cfg, out / "core")
    soc = sim_soc(cfg, sources)
    builder = Builder(soc, output_dir=str(out), compile_software=False, compile_gateware=False,
                      csr_json=str(out / "csr.json"))
    sim_config = SimConfig()
    sim_config.add_clocker("sys_clk", freq_hz=SYS_CLK_HZ["sim"])
    sim_config.add_module("serial2tcp", "serial", args={"port": 0})   # set per run
    builder.build(sim_config=sim_config, run=False, interactive=False)
    gw = out / "gateware"
    with simulator_env():
        rc = run_logged(["bash", "build_sim.sh"], gw, out / "build.log", say=say)
    if rc or not exe.exists():
        raise RuntimeError(f"the simulated SoC did not compile (see {out / 'build.log'})")
    say(f"simulated SoC built in {time.time() - t0:.0f} s")
    return out


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    """True when something listens on local TCP ``port`` (read from /proc, no connection)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "0A":    # 0A: LISTEN
                return True
    return False


def _wait_listening(port: int, proc: subprocess.Popen, what: str, log: Path,
                    timeout: float = 60.0) -> None:
    t_end = time.time() + timeout
    while not _listening(port):
        if proc.poll() is not None:
            raise RuntimeError(f"{what} stopped (exit status {proc.returncode}; see {log})")
        if time.time() > t_end:
            raise RuntimeError(f"{what} did not listen on port {port} within {timeout:.0f} s "
                               f"(see {log})")
        time.sleep(0.1)


class SimulatedSoC:
    """The simulated SoC of ``cfg`` and a ``litex_server`` in front of it (a context manager).

    ``url``: where the host driver connects (``tcp://127.0.0.1:<port>``).
    """

    def __init__(self, cfg, say=print):
        self.cfg, self.say = cfg, say
        self.dir = build(cfg, say)
        self.procs: list[subprocess.Popen] = []
        self.logs: list = []
        self.url = ""

    def __enter__(self) -> "SimulatedSoC":
        gw = self.dir / "gateware"
        uart_port, server_port = free_port(), free_port()
        cfg_file = gw / "sim_config.js"
        sim_cfg = json.loads(cfg_file.read_text())
        for mod in sim_cfg:
            if mod.get("module") == "serial2tcp":
                mod["args"] = {"port": uart_port}
        cfg_file.write_text(json.dumps(sim_cfg))
        try:
            sim_log, srv_log = self.dir / "sim.log", self.dir / "server.log"
            self._start([str(gw / "obj_dir" / "Vsim")], gw, sim_log)
            _wait_listening(uart_port, self.procs[0], "the simulated SoC", sim_log)
            self._start([sys.executable, "-m", "litex.tools.litex_server", "--uart",
                         "--uart-port", f"socket://127.0.0.1:{uart_port}", "--bind-ip",
                         "127.0.0.1", "--bind-port", str(server_port)], self.dir, srv_log)
            _wait_listening(server_port, self.procs[1], "litex_server", srv_log)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.url = f"tcp://127.0.0.1:{server_port}"
        return self

    def _start(self, cmd: list, cwd: Path, log: Path) -> None:
        """Start ``cmd`` in ``cwd``, its output into ``log``."""
        f = open(log, "w")
        self.logs.append(f)
        self.procs.append(subprocess.Popen(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL))

    def __exit__(self, *exc) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.procs.clear()
        for f in self.logs:
            f.close()
        self.logs.clear()


def require_litex() -> None:
    """BoardError naming the install command when LiteX (the ``board`` extra) is missing."""
    try:
        import litedram  # noqa: F401
        import litex  # noqa: F401
        import litex_boards  # noqa: F401
    except ImportError:
        raise BoardError("the board flow needs LiteX: pip install -e '.[board]' "
                         "(make env installs it)") from None


def check_tools() -> None:
    """BoardError naming the install command when the simulation's tools are missing."""
    require_litex()
    for header in ("event2/event.h", "json-c/json.h"):
        if not any((Path(d) / header).exists() for d in ("/usr/include", "/usr/local/include")):
            raise BoardError(f"the simulated SoC needs {header}: apt-get install -y "
                             f"libevent-dev libjson-c-dev")
