"""What can be checked of the Vivado flow without Vivado.

* scripts/vivado/build.tcl is complete Tcl and runs under tclsh against stub
  Vivado commands (the order and arguments of the calls are checked), from a
  folder's files.f or from a file list with absolute paths;
* scripts/bitstream.py's file list names the vendor dsp_mac (one DSP48E1), not
  the converted one;
* every port named in constraints/ese_top.xdc exists in the converted top;
* scripts/bitstream.py without vivado on PATH exits 2 with a clear message.
"""

import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TCL = ROOT / "scripts" / "vivado" / "build.tcl"
XDC = ROOT / "constraints" / "ese_top.xdc"

STUBS = """
set ::calls {}
foreach cmd {read_verilog read_xdc synth_design write_checkpoint report_utilization
             report_timing_summary report_clock_utilization report_power report_drc
             opt_design place_design phys_opt_design route_design write_bitstream
             set_param set_property get_drc_checks get_timing_paths} {
    proc $cmd {args} [format {lappend ::calls [list %s {*}$args]; return {}} $cmd]
}
proc get_property {args} { lappend ::calls [list get_property {*}$args]; return 0.123 }
rename exit _real_exit
proc exit {{code 0}} { set ::exit_code $code; return -code return }
set ::exit_code 0
set argv $::env(ESE_TCL_ARGS)
set argc [llength $argv]
set ::argv0 build.tcl
source $::env(ESE_TCL)
foreach c $::calls { puts "CALL [lindex $c 0] [lrange $c 1 end]" }
puts "EXIT $::exit_code"
"""

tclsh = shutil.which("tclsh")


@pytest.mark.skipif(tclsh is None, reason="tclsh not installed")
def test_build_tcl_is_complete():
    r = subprocess.run([tclsh], input=f"puts [info complete [read [open {TCL}]]]",
                       capture_output=True, text=True)
    assert r.stdout.strip() == "1", r.stderr


def _run_stubbed(tmp_path, args):
    stub = tmp_path / "stub.tcl"
    stub.write_text(STUBS)
    env = dict(os.environ, ESE_TCL=str(TCL), ESE_TCL_ARGS=" ".join(args))
    r = subprocess.run([tclsh, str(stub)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    calls = [ln[5:].split(" ", 1) for ln in r.stdout.splitlines() if ln.startswith("CALL ")]
    code = int(re.search(r"EXIT (\d+)", r.stdout).group(1))
    return calls, code, r.stdout + r.stderr


@pytest.mark.skipif(tclsh is None, reason="tclsh not installed")
def test_build_tcl_runs_against_stubs(tmp_path):
    gen, out = tmp_path / "gen", tmp_path / "out"
    gen.mkdir()
    (gen / "csr.v").write_text("module csr; endmodule\n")
    (gen / "ese_top.v").write_text("module ese_top; endmodule\n")
    (gen / "files.f").write_text("csr.v\nese_top.v\n")
    calls, code, log = _run_stubbed(tmp_path, [str(gen), str(out)])
    assert code == 0, log
    names = [c[0] for c in calls]
    order = ["read_verilog", "read_xdc", "synth_design", "opt_design", "place_design",
             "route_design", "report_utilization", "report_timing_summary", "write_bitstream"]
    pos = [len(names) - 1 - names[::-1].index(n) for n in order]   # last call of each
    assert pos == sorted(pos), f"Vivado steps out of order: {names}"
    synth = dict(calls)["synth_design"]
    assert "-top ese_top" in synth and "-part xcku060-ffva1156-2-e" in synth
    assert str(gen / "ese_top.v") in dict(calls)["read_verilog"]
    assert str(XDC) in dict(calls)["read_xdc"]
    assert str(out / "ese_top.bit") in dict(calls)["write_bitstream"]
    assert str(out / "timing_summary.rpt") in dict(calls)["report_timing_summary"]
    assert out.is_dir()


@pytest.mark.skipif(tclsh is None, reason="tclsh not installed")
def test_build_tcl_reads_a_file_list(tmp_path):
    gen, out, vend = tmp_path / "gen", tmp_path / "out", tmp_path / "out" / "vendor"
    gen.mkdir()
    vend.mkdir(parents=True)
    (gen / "ese_top.v").write_text("module ese_top; endmodule\n")
    (vend / "dsp_mac.v").write_text("module dsp_mac; endmodule\n")
    (out / "rel.v").write_text("module rel; endmodule\n")
    flist = out / "files.f"
    flist.write_text(f"{vend / 'dsp_mac.v'}\nrel.v\n{gen / 'ese_top.v'}\n")
    calls, code, log = _run_stubbed(tmp_path, [str(flist), str(out)])
    assert code == 0, log
    # absolute paths as they are, a relative one from the list's folder, in list order
    assert dict(calls)["read_verilog"].strip("{}").split() == \
        [str(vend / "dsp_mac.v"), str(out / "rel.v"), str(gen / "ese_top.v")]


@pytest.mark.rtl      # converts dsp_mac (MyHDL)
def test_bitstream_file_list_takes_the_vendor_dsp_mac(load_script, tmp_path):
    from ese.config import TINY
    from ese.hdl import dsp_mac, fifo
    from ese.hdl.convert import convert_block
    bitstream = load_script("bitstream")
    gen, out = tmp_path / "gen", tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        files = [convert_block(fifo.top(TINY), "fifo", gen, TINY),
                 convert_block(dsp_mac.top(TINY), "dsp_mac", gen, TINY)]
    lines = bitstream.file_list(TINY, files, out).read_text().splitlines()
    assert lines == [str(gen / "fifo.v"), str(out / "vendor" / "dsp_mac.v")]
    text = (out / "vendor" / "dsp_mac.v").read_text()
    assert "module dsp_mac (" in text and "DSP48E1 #(" in text
    assert "DSP48E1" not in (gen / "dsp_mac.v").read_text()       # the converted one stays


@pytest.mark.skipif(tclsh is None, reason="tclsh not installed")
def test_build_tcl_rejects_missing_file_list(tmp_path):
    calls, code, log = _run_stubbed(tmp_path, [str(tmp_path / "nothing"), str(tmp_path / "o")])
    assert code == 2 and not calls and "files.f" in log


def _xdc_ports():
    text = "\n".join(ln.split("#")[0] for ln in XDC.read_text().splitlines())
    return set(re.findall(r"get_ports\s+\{?\s*([A-Za-z_]\w*(?:\[\d+\])?)", text))


@pytest.mark.rtl      # converts ese_top (MyHDL)
def test_xdc_ports_exist_in_top():
    from ese.config import TINY
    from ese.hdl import tops
    ports = _xdc_ports()
    assert "clk" in ports
    if "ese_top" not in tops.TOPS:
        pytest.skip("ese_top not written yet")
    from ese.hdl.convert import convert_block
    import tempfile
    with tempfile.TemporaryDirectory() as d, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = convert_block(tops.TOPS["ese_top"](TINY), "ese_top", Path(d)).read_text()
    declared = set(re.findall(r"^\s*(?:input|output|inout)\s+(?:\[[^\]]+\]\s*)?(\w+);", v, re.M))
    missing = {p.split("[")[0] for p in ports} - declared
    assert not missing, f"XDC names ports the top lacks: {missing}"


def test_bitstream_without_vivado(tmp_path):
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + "/usr/bin:/bin")
    if shutil.which("vivado", path=env["PATH"]):
        pytest.skip("vivado is installed")
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "bitstream.py"), "--config", "tiny"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 2
    assert "vivado is not on PATH" in r.stderr and "Traceback" not in r.stderr
