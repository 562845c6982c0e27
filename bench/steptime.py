"""Timing shared by bench/torch_bench.py and bench/keras_bench.py: the
figures of a step function run warmup times untimed, then steps times."""
import argparse
import os
import resource
import statistics
import time


def parser(doc, layouts=None):
    """The command line both harnesses take (--layout when layouts are
    given, the first the default)."""
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("--mode", choices=("train", "infer"), default="train")
    if layouts:
        p.add_argument("--layout", choices=layouts, default=layouts[0])
    p.add_argument("--base", type=int, default=16)
    p.add_argument("--depth", type=int, default=5)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    return p


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
