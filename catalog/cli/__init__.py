"""The `hds` command: one module per subcommand group, plus the demo, the benchmarks and synthetic feeds."""
