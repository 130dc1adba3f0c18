"""Private infrastructure every room may use, with no public names of its own: argument checks (``checks``), batch
shapes (``shapes``), pickle-free atomic checkpoints (``checkpoint``), process groups (``distributed``), the training
defaults (``defaults``), the CPU allocator switch (``tuning``, public as :func:`scorematch.tune_cpu_allocator`) and
the tables of names (``table``)."""

__all__: list[str] = []
