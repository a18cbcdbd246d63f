"""The machinery every scenario shares: the registry, the command line, output writing, progress bars, plots, sweeps, strong alignment, and the build-your-own API."""
