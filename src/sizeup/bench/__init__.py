"""Measure models in llama.cpp: sweeps (:mod:`.config`), one worker process per configuration
(:mod:`.worker`, driven by :mod:`.runner`), statistics (:mod:`.stats`) and the speed calibration
learnt from the results (:mod:`.calibrate`). Results go to :mod:`sizeup.history`."""
