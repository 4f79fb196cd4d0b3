"""The inference engine (llama.cpp through llama-cpp-python): how to build it for this CPU,
how to install it, and how to tell whether it works (``sizeup doctor``).

Flow: :mod:`buildflags` (pure: CPU features -> CMake flags) -> :mod:`install` (pip wheel with
those flags, cached under a key of flags and CPU) -> :mod:`probe` (child process: import, system
info, smoke test) -> :mod:`doctor` (checks) and :mod:`diagnose` (pure: failure -> cause + fix),
which every llama.cpp child uses to explain a native crash.
"""
