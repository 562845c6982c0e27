"""Timing shared by bench/torch_bench.py and bench/keras_bench.py: the
figures of a step function run warmup times untimed, then steps times."""
import os
import resource
import statistics
import time


def time_steps(step, warmup, steps, batch):
    """Run step() warmup + steps times; the timed figures as a dict:
    each step's seconds, their median, images per second, CPU over wall
    time of the timed steps, and this process's peak RSS in KiB."""
    sec = []
    cpu0 = None
    for s in range(warmup + steps):
        if s == warmup:
            cpu0 = os.times()
        t0 = time.perf_counter()
        step()
        if s >= warmup:
            sec.append(time.perf_counter() - t0)
    cpu1 = os.times()
    med = statistics.median(sec)
    return {
        "warmup": warmup, "steps": steps,
        "step_seconds": sec, "median_seconds": med,
        "images_per_second": batch / med,
        "cpu_per_wall": (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / sum(sec),
        "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
