"""The host protocol's bus over LiteX's remote client (``litex_server``).

:class:`LitexBus` is a synchronous :class:`~ese.rtlsim.host.Bus`: every
access is an Etherbone packet to a ``litex_server``, which forwards it over
the SoC's bridge (the UART bridge of the ULX3S or of the simulated SoC; the
same client works over Ethernet or PCIe bridges).  Addresses come from
:data:`ese.board.boards.LITEX_MAP`.

Two things the stock ``RemoteClient`` does that a driver must not:

* a read that times out returns zeros; here it raises :class:`BridgeError`
  (zeros would pass for outputs);
* nothing paces writes.  ``litex_server`` sends a burst as fast as TCP
  takes it, and the simulator's ``serial2tcp`` module buffers 2 KB and drops
  the rest.  :meth:`LitexBus.write_mem` writes at most :data:`CHUNK_WORDS`
  words (about 1.2 KB on the wire) and reads one word back before the next
  chunk; on a board the UART is slower than the bridge and the read-back is
  one round trip per KB.
"""

from __future__ import annotations

import socket
import struct

from ese.rtlsim.host import Bus, poll_irq

from .boards import LITEX_MAP, AddressMap, BoardError

#: words per Etherbone record (its count field is one byte) and per paced write
CHUNK_WORDS = 255
#: seconds a bridge access may take before the bus gives up (a simulated SoC is slow)
TIMEOUT_S = 60.0


class BridgeError(RuntimeError):
    """The bridge did not answer (board or simulator gone, cable pulled)."""


def parse_tcp_url(url: str) -> tuple[str, int]:
    """``tcp://HOST:PORT`` -> (host, port); BoardError on anything else."""
    if not url.startswith("tcp://"):
        raise BoardError(f"board URL {url!r}: expected tcp://HOST:PORT (a litex_server)")
    host, _, port = url[len("tcp://"):].rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BoardError(f"board URL {url!r}: expected tcp://HOST:PORT (a litex_server)")
    return host, int(port)


def _client_class():
    from litex.tools.litex_client import RemoteClient

    class Client(RemoteClient):
        """RemoteClient whose timed-out reads raise instead of returning zeros."""

        def receive_packet(self, sock, addr_size):
            try:
                packet = super().receive_packet(sock, addr_size)
            except socket.timeout:
                packet = 0
            if packet == 0:
                raise BridgeError(f"litex_server at {self.host}:{self.port} did not answer "
                                  f"within {TIMEOUT_S:.0f} s")
            return packet

    return Client


class LitexBus(Bus):
    """:class:`~ese.rtlsim.host.Bus` through a ``litex_server`` at ``url`` (``tcp://HOST:PORT``)."""

    def __init__(self, url: str, amap: AddressMap = LITEX_MAP, poll_s: float = 0.001):
        host, port = parse_tcp_url(url)
        self.url, self.amap, self.poll_s = url, amap, poll_s
        self.mem_base, self.mem_size = amap.dram_core, amap.dram_size
        try:
            self.client = _client_class()(host=host, port=port, csr_csv=None)
            self.client.open()
        except OSError as e:
            raise BoardError(f"no litex_server at {url} ({e.strerror or e}): start one "
                             f"(docs/boards.md: litex_server --uart --uart-port /dev/ttyUSB0 "
                             f"--uart-baudrate 1000000)") from None
        self.client.socket.settimeout(TIMEOUT_S)

    def close(self) -> None:
        self.client.close()

    # word access (host addresses) -------------------------------------------
    def read_words(self, addr: int, n: int) -> list:
        out = []
        for k in range(0, n, CHUNK_WORDS):
            m = min(CHUNK_WORDS, n - k)
            got = self.client.read(addr + 4 * k, m)
            out.extend(got if isinstance(got, list) else [got])
        return out

    def write_words(self, addr: int, words: list) -> None:
        for k in range(0, len(words), CHUNK_WORDS):
            self.client.write(addr + 4 * k, list(words[k:k + CHUNK_WORDS]))
            self.client.read(addr + 4 * k)          # paces the bridge (module docstring)

    def _host(self, addr: int) -> int:
        return addr - self.amap.dram_core + self.amap.dram_host

    # the Bus ------------------------------------------------------------------
    async def read32(self, offset: int) -> int:
        return self.client.read(self.amap.regs + offset)

    async def write32(self, offset: int, value: int) -> None:
        self.client.write(self.amap.regs + offset, value)

    async def write_mem(self, addr: int, data: bytes) -> None:
        if addr % 4:
            raise ValueError(f"write_mem: address {addr:#x} is not word aligned")
        tail = len(data) % 4
        if tail:        # keep the bytes after the block: read-modify-write the last word
            last = addr + len(data) - tail
            keep = struct.pack("<I", self.read_words(self._host(last), 1)[0])
            data = bytes(data) + keep[tail:]
        self.write_words(self._host(addr), list(struct.unpack(f"<{len(data) // 4}I", data)))

    async def read_mem(self, addr: int, n: int) -> bytes:
        if addr % 4:
            raise ValueError(f"read_mem: address {addr:#x} is not word aligned")
        words = self.read_words(self._host(addr), -(-n // 4))
        return struct.pack(f"<{len(words)}I", *words)[:n]

    def csr(self, k: int) -> int:
        """HostIO CSR ``k`` (0 irq, 1 cycles)."""
        return self.client.read(self.amap.host_csr + 4 * k)

    async def wait_irq(self, max_cycles: int, progress=None, every: int = 50_000) -> bool:
        count = {"last": self.csr(1), "cycles": 0}

        def elapsed() -> int:        # the 32-bit counter wraps every 86 s at 50 MHz
            now = self.csr(1)
            count["cycles"] += (now - count["last"]) & 0xFFFFFFFF
            count["last"] = now
            return count["cycles"]

        return poll_irq(lambda: self.csr(0) & 1, elapsed, max_cycles, progress, every,
                        self.poll_s)
