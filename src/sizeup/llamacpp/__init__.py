"""Thin adapters over llama.cpp (through llama-cpp-python), always run in a child process."""
