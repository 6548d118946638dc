# Vivado non-project flow for the ESE accelerator (called by scripts/bitstream.py).
#
#   vivado -mode batch -source scripts/vivado/build.tcl \
#          -tclargs SOURCES OUT_DIR [TOP] [PART] [XDC] [JOBS]
#
# SOURCES  a file list NAME.f (one Verilog file a line, absolute or relative to
#          the list's folder), or a folder holding one as files.f.  scripts/bitstream.py
#          passes build/vivado/<preset>/files.f: the converted Verilog with the
#          vendor dsp_mac (one DSP48E1 primitive) in place of the converted one.
#          The folder of `ese verilog -o DIR` works too, but synthesizes the
#          behavioral dsp_mac.
# OUT_DIR  reports, checkpoints and the bitstream (build/vivado/<preset>)
# TOP      top module (default ese_top)
# PART     default xcku060-ffva1156-2-e (Alpha Data ADM-PCIE-KU3)
# XDC      default constraints/ese_top.xdc next to this repository's scripts/
# JOBS     parallel jobs for place/route (default 2)
#
# NOT RUN in this repository's CI (Vivado is not installed there); the Tcl is
# parsed with tclsh against stub commands by tests/test_vivado_flow.py.

proc ese_arg {i default} {
    global argv
    if {[llength $argv] > $i && [lindex $argv $i] ne ""} { return [lindex $argv $i] }
    return $default
}

set script_dir [file dirname [file normalize [info script]]]
set repo_dir   [file dirname [file dirname $script_dir]]
if {[llength $argv] < 2} {
    puts stderr "usage: vivado -mode batch -source build.tcl -tclargs SOURCES OUT_DIR ?TOP? ?PART? ?XDC? ?JOBS?"
    exit 2
}
set flist   [file normalize [ese_arg 0 ""]]
set out_dir [file normalize [ese_arg 1 ""]]
set top     [ese_arg 2 ese_top]
set part    [ese_arg 3 xcku060-ffva1156-2-e]
set xdc     [file normalize [ese_arg 4 [file join $repo_dir constraints ese_top.xdc]]]
set jobs    [ese_arg 5 2]

file mkdir $out_dir
if {[file extension $flist] ne ".f"} { set flist [file join $flist files.f] }
if {![file exists $flist]} {
    puts stderr "build.tcl: $flist not found (run: python scripts/bitstream.py --config PRESET)"
    exit 2
}
set list_dir [file dirname $flist]
set fh [open $flist r]
set sources {}
foreach line [split [read $fh] "\n"] {
    set line [string trim $line]
    if {$line eq "" || [string index $line 0] eq "#"} { continue }
    # an absolute path stays as it is (file join drops what precedes it)
    lappend sources [file join $list_dir $line]
}
close $fh
if {[llength $sources] == 0} {
    puts stderr "build.tcl: $flist lists no sources"
    exit 2
}

if {[lsearch -exact [lmap s $sources {file tail $s}] "$top.v"] < 0} {
    puts stderr "build.tcl: $top.v is not in $flist"
    exit 2
}
if {![file exists $xdc]} {
    puts stderr "build.tcl: constraints $xdc not found"
    exit 2
}

set_param general.maxThreads $jobs
# The files hold every module of the design (the separately converted blocks
# and the vendor primitives' wrappers); synth_design elaborates only TOP.
read_verilog $sources
read_xdc $xdc

synth_design -top $top -part $part -flatten_hierarchy rebuilt
write_checkpoint -force [file join $out_dir post_synth.dcp]
report_utilization -file [file join $out_dir utilization_synth.rpt]

opt_design
place_design
phys_opt_design
route_design
write_checkpoint -force [file join $out_dir post_route.dcp]

report_utilization -file [file join $out_dir utilization.rpt]
report_utilization -hierarchical -file [file join $out_dir utilization_hier.rpt]
report_timing_summary -max_paths 20 -file [file join $out_dir timing_summary.rpt]
report_clock_utilization -file [file join $out_dir clock_utilization.rpt]
report_power -file [file join $out_dir power.rpt]
report_drc -file [file join $out_dir drc.rpt]

# The top's AXI ports are meant to be wired inside a block design (see
# constraints/README.md); as a stand-alone top they have no pin locations, so
# the unconstrained-I/O DRCs are downgraded to let a bitstream be written for
# inspection.  A board build wraps ese_top and constrains the wrapper's pins.
set_property SEVERITY {Warning} [get_drc_checks NSTD-1]
set_property SEVERITY {Warning} [get_drc_checks UCIO-1]
write_bitstream -force [file join $out_dir "$top.bit"]

set wns [get_property SLACK [get_timing_paths -max_paths 1 -nworst 1 -setup]]
puts "build.tcl: done, $top on $part, worst setup slack $wns ns, results in $out_dir"
if {$wns < 0} {
    puts "build.tcl: TIMING NOT MET (see timing_summary.rpt)"
    exit 1
}
