"""Shared by the Python benches (bench_processors.py, bench_vlm.py): what every figure is reported
with (the CPU, the load)."""
import platform


def cpu_name():
    """The CPU's model name (/proc/cpuinfo), else what platform says."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_average():
    """The 1, 5 and 15 minute load averages, as text ("?" where unknown)."""
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"
