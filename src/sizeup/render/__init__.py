"""rich renderings shared by commands (inspect, fit, compare...): data in, renderables out."""
