"""Pure music and model code, in subpackages by idea: no threads, clocks, ports or devices."""
