"""The spoken-word task (``ese.speech``): a real trained model end to end.

============================  ================================================
``wav.py``                    WAV reading/writing, resampling
``features.py``               log-mel front end, normalization
``data.py``                   espeak-ng voices, the held-out split, noise and
                              augmentation
``train.py``                  the LSTMP in PyTorch, gradual load-balanced pruning
``recognizer.py``             speech model folders, the engines (float, fixed,
                              RTL), the classifier
``transcribe.py``             ``ese transcribe``
``pipeline.py``               ``make speech``: data -> accuracy table
``demo.py``                   ``make sim``: words spoken now, heard on the RTL
``default/``                  the committed trained model (source only: the
                              image is derived at load time)
============================  ================================================

See docs/speech.md.  torch is needed only for training (``train.py``,
``pipeline.py``); recognition runs on numpy (and the RTL).
"""
