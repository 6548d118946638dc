"""The spoken-word task (``ese.speech``): a real trained model end to end.

============================  ================================================
``wav.py``                    WAV reading/writing, resampling
``features.py``               log-mel front end, normalization
``vocabulary.py``             the 20 words, ``_silence_``, ``_unknown_``, the
                              other words, babble sentences
``engines.py``                espeak-ng and flite voices, the speaker split
``rooms.py``                  simulated rooms (image sources + diffuse tail)
``augment.py``                conditions: speed, room, noise, channel, gain
``data.py``                   who says what on which side, the cache, the
                              test set (dry and degraded)
``train.py``                  the LSTMP in PyTorch, gradual load-balanced pruning
``recognizer.py``             speech model folders, the engines (float, fixed,
                              RTL), the classifier
``transcribe.py``             ``ese transcribe``
``evaluate.py``               the accuracy tables (engine, voice, condition,
                              silence, unknown), confusion matrix
``pipeline.py``               ``make speech``: data -> accuracy tables
``demo.py``                   ``make sim``: words spoken now, heard on the RTL
``default/``                  the committed trained model (source only: the
                              image is derived at load time)
============================  ================================================

See docs/speech.md.  torch is needed only for training (``train.py``,
``pipeline.py``); recognition runs on numpy (and the RTL).
"""
