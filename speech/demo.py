"""`make sim`: speak a few words, recognize them on the RTL, print heard vs spoken.

espeak-ng and flite speak the words now, in turn, with speakers the default
model never heard in training (espeak-ng variants and flite voices of the
held-out side of its data split);
the clips go through the front end, the LSTM runs on the generated Verilog
(Verilator by default) from the memory image derived from the committed
default model (``ese compress`` of its pruned weights, at load time), and
the host takes the maximum over time and the classifier.  The same inputs run
through the integer engine: the RTL's outputs must equal it bit for bit
(exit status 1 otherwise).

    python -m ese.speech.demo [--sim verilator|icarus] [--words yes,no,seven,stop]
                              [--model SPEECH_MODEL_DIR]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

DEFAULT_WORDS = ("yes", "seven", "left", "stop")


def demo_voices(model, n: int) -> list:
    """``n`` voices of speakers held out from the model's training: espeak-ng variants
    and flite voices in turn, at moderate rates and pitches."""
    from . import engines as E
    data = model.info.get("data", {})
    seed = int(data.get("seed", 0))
    _, variants = E.split_variants(seed)
    _, flite = E.split_flite(tuple(data.get("flite_held_out", E.FLITE_HELD_OUT)))
    rng = np.random.default_rng(1234)
    accents = ("en-us", "en-gb", "en-gb-scotland", "en-029")
    out = []
    for k in range(n):
        if k % 2 == 0:
            out.append(E.EspeakVoice(accent=accents[k // 2 % len(accents)],
                                     variant=variants[(3 * k + 1) % len(variants)],
                                     speed=int(rng.integers(140, 190)),
                                     pitch=int(rng.integers(35, 65))))
        else:
            v = flite[k // 2 % len(flite)]
            f0 = E.FLITE_VOICES[v]
            out.append(E.FliteVoice(voice=v, stretch=round(float(rng.uniform(0.9, 1.15)), 3),
                                    f0=int(np.mean(f0)) if f0 else 0))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim", choices=("verilator", "icarus"), default="verilator")
    ap.add_argument("--words", default=",".join(DEFAULT_WORDS),
                    help="comma-separated words of the vocabulary")
    ap.add_argument("--model", default=None, help="speech model folder (default: the project's)")
    a = ap.parse_args(argv)

    from ese.model.modelfile import ModelError
    from . import engines as E
    from .recognizer import classify, clip_inputs, load_speech_model, lstm_outputs
    from .vocabulary import is_word_class

    t0 = time.time()
    try:
        model = load_speech_model(a.model)
    except ModelError as e:
        print(f"make sim: {e}", file=sys.stderr)
        return 2
    words = [w.strip() for w in a.words.split(",") if w.strip()]
    unknown = [w for w in words if w not in model.words or not is_word_class(w)]
    if not words or unknown:
        print(f"make sim: not in the vocabulary: {', '.join(unknown) or '(none given)'} "
              f"(words: {' '.join(w for w in model.words if is_word_class(w))})",
              file=sys.stderr)
        return 2
    if not model.compressed:
        print(f"make sim: speech model {model.path} is float only (no hardware configuration)",
              file=sys.stderr)
        return 2
    try:
        cfg = model.app.cfg                 # derives the memory image (ese compress)
    except ModelError as e:
        print(f"make sim: {e}", file=sys.stderr)
        return 2
    voices = demo_voices(model, len(words))
    try:
        clips = [E.speak(w, v, model.features.sample_rate) for w, v in zip(words, voices)]
    except E.SpeechError as e:
        print(f"make sim: {e}", file=sys.stderr)
        return 2
    x = clip_inputs(model, clips)
    est = model.bundle.manifest["estimate"]
    print(f"model {model.path.name}: {len(model.words)} words, LSTM {model.bundle.n_in} -> "
          f"{model.bundle.n_out}, {len(model.bundle.manifest['layers'])} layers, image "
          f"{len(model.bundle.image)} bytes; configuration {cfg.name!r} ({cfg.n_ch} channels "
          f"x {cfg.n_pe} PEs)")
    engines = " and ".join(sorted({v.engine for v in voices}))
    print(f"spoke {len(words)} word(s) with {engines} ({time.time() - t0:.1f} s); "
          f"{x.shape[1]} steps each; RTL on {a.sim} (estimated "
          f"{est['cycles_per_frame']:.0f} cycles/step)", flush=True)
    try:
        y_rtl, yq_rtl, stats = lstm_outputs(model, x, "rtl", sim=a.sim,
                                            progress=lambda m: print("  " + m, flush=True))
    except Exception as e:  # noqa: BLE001 - report, exit 1
        print(f"make sim: RTL simulation failed: {e}", file=sys.stderr)
        return 1
    _, yq_fixed, _ = lstm_outputs(model, x, "fixed")
    heard_rtl = classify(model, y_rtl).argmax(1)
    rows = []
    all_exact = True
    for k, (w, v) in enumerate(zip(words, voices)):
        exact = bool(np.array_equal(yq_rtl[k], yq_fixed[k]))
        all_exact &= exact
        heard = model.words[int(heard_rtl[k])]
        rows.append((w, heard, "yes" if heard == w else "NO", "yes" if exact else "NO",
                     v.name))
    hdr = ("spoken", "heard (RTL)", "right", "bit-exact vs integer engine", "voice (held out)")
    w_ = [max(len(r[i]) for r in rows + [hdr]) for i in range(len(hdr))]
    print()
    for r in [hdr] + rows:
        print("  " + "  ".join(c.ljust(w_[i]) for i, c in enumerate(r)))
    right = sum(r[2] == "yes" for r in rows)
    print(f"\n{right}/{len(rows)} heard right; RTL {'bit-exact' if all_exact else 'DIFFERS'} "
          f"with the integer engine; {stats['cycles_per_frame']:.0f} cycles/step measured "
          f"(utilization {stats['utilization']:.2f}, {stats['latency_us_at_200mhz']:.1f} us "
          f"per step at 200 MHz); {time.time() - t0:.0f} s")
    return 0 if all_exact else 1


if __name__ == "__main__":
    sys.exit(main())
