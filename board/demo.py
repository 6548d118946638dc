"""``make board-sim BOARD=ulx3s``: spoken words through the simulated SoC, like ``make sim``.

espeak-ng speaks a few words with voices the recognizer never heard
(``ese.speech.demo``'s held-out voices); the committed speech model's LSTM is
compressed for the board's preset (the same weights: the model's 16-PE
pruning masks are checked to survive, as for its own configuration); the
simulated SoC of the board (:mod:`ese.board.sim`: LiteDRAM on the SDRAM
model, the UART bridge, ``litex_server``) runs the LSTM through the board
engine (``--engine board``), and the same inputs run on the integer engine.
The table shows what the board heard next to the truth and whether it was
bit-exact; exit status 1 if any output differs.
"""

from __future__ import annotations

import time

import numpy as np

from .boards import BoardError, get_board

#: the words of make board-sim (a simulated utterance costs ~1 minute on 2 cores)
DEFAULT_WORDS = ("yes", "seven", "stop")


def board_model(model, cfg):
    """The speech model's LSTM compressed for ``cfg`` (an :class:`ese.app.Model`); BoardError
    if that would change the trained weights (the pruning is tied to the PE count)."""
    from ese.app import Model
    from ese.speech.recognizer import same_weights
    m = Model.compress(model.float_model, cfg, density=model.density, balance=True)
    if not same_weights(model.float_model, m.bundle.pruned):
        raise BoardError(f"configuration {cfg.name!r} does not keep the trained weights of "
                         f"{model.path} (its pruning is for {cfg.n_pe}-PE load balance?)")
    return m


def run(board_name: str, words=None, say=print) -> int:
    """Recognize ``words`` (comma-separated, or a list) on the simulated ``board_name``."""
    from ese.speech import data as D
    from ese.speech.demo import demo_voices
    from ese.speech.recognizer import classify, clip_inputs, load_speech_model

    from .sim import SimulatedSoC, check_tools

    board = get_board(board_name)
    check_tools()
    t0 = time.time()
    model = load_speech_model()
    words = [w.strip() for w in (words.split(",") if isinstance(words, str) else
                                 (words or DEFAULT_WORDS)) if w.strip()]
    unknown = [w for w in words if w not in model.words]
    if not words or unknown:
        raise BoardError(f"not in the vocabulary: {', '.join(unknown) or '(none given)'} "
                         f"(words: {' '.join(model.words)})")
    app = board_model(model, board.cfg)
    voices = demo_voices(model, len(words))
    try:
        clips = [D.speak(w, v, model.features.sample_rate) for w, v in zip(words, voices)]
    except D.SpeechError as e:
        raise BoardError(str(e)) from None
    x = clip_inputs(model, clips)
    say(f"{board.name} (simulated): configuration {board.cfg.name!r}, {len(words)} word(s) of "
        f"{x.shape[1]} steps spoken with {' and '.join(sorted({v.engine for v in voices}))}; image {len(app.bundle.image)} bytes")
    with SimulatedSoC(board.cfg, say=say) as soc:
        say(f"simulated SoC and litex_server up: {soc.url}")
        r = app.infer(x, "board", board_url=soc.url, progress=lambda m: say("  " + m))
    fixed = app.infer(x, "fixed")
    heard = classify(model, r.y).argmax(1)
    exact = [bool(np.array_equal(a, b)) for a, b in zip(r.y_q, fixed.y_q)]
    say("")
    say(f"  {'spoken':<8} {'heard (board)':<14} {'right':<6} {'bit-exact':<10} voice (held out)")
    for k, (w, v) in enumerate(zip(words, voices)):
        h = model.words[int(heard[k])]
        say(f"  {w:<8} {h:<14} {'yes' if h == w else 'NO':<6} "
            f"{'yes' if exact[k] else 'NO':<10} {v.name}")
    st = r.stats
    right = sum(model.words[int(heard[k])] == w for k, w in enumerate(words))
    say(f"\n{right}/{len(words)} heard right; the simulated {board.name} "
        f"{'bit-exact' if all(exact) else 'DIFFERS'} with the integer engine; "
        f"{st['cycles_per_frame']:.0f} cycles/step measured, model load {st['load_cycles']} "
        f"cycles through LiteDRAM; {time.time() - t0:.0f} s")
    return 0 if all(exact) else 1
