"""Facts as data: type tables, GPU specs, the model catalog. Each table names its source."""
