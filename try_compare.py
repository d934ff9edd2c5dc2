import sys, time
from core.kinds.base import RunContext, measure
from core.kinds.compare import KIND
from core.presets import preset, PRESETS
from core.engines import ClusterRegistry
def main():
    names = sys.argv[1:] or list(PRESETS)
    with ClusterRegistry() as reg:
        for name in names:
            spec = preset(name)
            t = time.monotonic()
            r = measure(KIND, spec, RunContext(clusters=reg))
            print(f"== {name}: {time.monotonic()-t:.2f}s rounds={r.rounds} stop={r.stop} noise={r.noise.other_cores:.2f}")
            for v in r.verdicts:
                print(f"   {v.label:40} {v.verdict:10} {v.speedup:.2f} [{v.ci[0]:.2f},{v.ci[1]:.2f}] used={v.cores_used:.2f} eff={v.efficiency:.2f} {v.reason[:60]}")
if __name__ == "__main__":
    main()

def detail(name):
    with ClusterRegistry() as reg:
        r = measure(KIND, preset(name), RunContext(clusters=reg))
        print(name, "setup", [round(a.setup_s,2) for a in r.arms], "warm", round(r.warmup_s,2), "wall", round(r.wall_s,2))
        for a in r.arms:
            print("  ", a.spec.scheduler, [round(x,3) for x in a.runs["wall_s"]], "startup", [round(x,3) for x in a.runs["startup_s"]])
