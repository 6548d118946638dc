"""The performance definitions (ese/perf.py), on figures worked out by hand."""

import pytest

from ese import perf


def test_clock():
    assert perf.CLOCK_HZ == 200e6 and perf.CLOCK_NS == pytest.approx(5.0)


def test_frame_figures_by_hand():
    # 2000 non-zeros on 4 PEs: 500 ideal cycles; 1000 measured -> half used;
    # 1000 cycles x 5 ns = 5 us; 2 x 2000 x 2 channels ops per 5 us = 1.6 GOPS
    f = perf.frame_figures(1000, nnz=2000, n_pe=4, n_ch=2)
    assert f["ideal_cycles_per_frame"] == 500.0
    assert f["utilization"] == 0.5
    assert f["latency_us_at_200mhz"] == pytest.approx(5.0)
    assert f["effective_gops"] == pytest.approx(1.6)
    assert (f["nnz"], f["n_pe"], f["n_ch"]) == (2000, 4, 2)


def test_zero_cycles_give_zero_rates():
    f = perf.frame_figures(0, nnz=10, n_pe=2, n_ch=1)
    assert f["utilization"] == 0.0 and f["effective_gops"] == 0.0


def test_pe_balance_bound():
    # 4 PEs with 10, 10, 10, 30 entries: mean 15, busiest 30 -> at best half used
    assert perf.pe_balance_bound([10, 10, 10, 30]) == 0.5
    assert perf.pe_balance_bound([7, 7, 7]) == 1.0
    assert perf.pe_balance_bound([0, 0]) == 0.0
    with pytest.raises(ValueError):
        perf.pe_balance_bound([])


def test_steady():
    # T = 10 frames took 1100 cycles, 2T took 2100: one more frame costs 100
    assert perf.steady(1100, 2100, 10) == 100.0
    with pytest.raises(ValueError):
        perf.steady(1, 2, 0)


def test_run_stats():
    # 3 runs of 4 frames, 2400 cycles in all: 200 cycles per frame
    s = perf.run_stats(2400, frames=4, runs=3, nnz=800, n_pe=8, n_ch=2)
    assert (s["frames"], s["cycles"], s["runs"]) == (4, 2400, 3)
    assert s["cycles_per_frame"] == 200.0 and s["utilization"] == 0.5
    assert s["latency_us_at_200mhz"] == pytest.approx(1.0)


def test_load_figures_by_hand():
    # a 64,000-byte image on a 512-bit bus (64 bytes a cycle): 1000 cycles at full speed;
    # 1250 cycles = 6.25 us, 51.2 bytes a cycle, 1.25 x the bus's time
    f = perf.load_figures(1250, image_bytes=64000, axi_data_bits=512)
    assert f["load_cycles"] == 1250 and f["image_bytes"] == 64000
    assert f["load_us_at_200mhz"] == pytest.approx(6.25)
    assert f["load_bytes_per_cycle"] == pytest.approx(51.2)
    assert f["bus_bytes_per_cycle"] == 64
    assert f["load_bus_ratio"] == pytest.approx(1.25)
    assert perf.load_figures(0, 0, 64)["load_bus_ratio"] == 0.0
