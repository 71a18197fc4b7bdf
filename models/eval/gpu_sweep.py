"""Train several variants of configs/train/shipped.toml at once on one GPU; report valid NLL.

Run from the repository root on the GPU machine, the data copied to .gpu/ (git-ignored):
    PYTHONPATH=$PWD python3 models/eval/gpu_sweep.py SECONDS
Each run is `improv train` with `workers = 2` and the time feel's fit skipped (the shipped
feel is fitted apart); after SECONDS the runs still going are stopped (SIGTERM: last.pt is
saved). $OUT gets summary.json, logs.tar.gz and the best.pt of the six best runs.
models/eval/gpu-sweep-partial.json is the 2026-12-04 run's logs, read back."""
import json, os, re, shutil, subprocess, sys, tarfile, time
from pathlib import Path

OUT = Path(os.environ.get("OUT", "/tmp/out"))
WORK = Path("/tmp/sweep")
DATA = ".gpu/wjazzd-solos.tar.gz"
BASE = Path("configs/train/shipped.toml").read_text()
COMMON = {"threads": 1, "workers": 2, **json.loads(os.environ.get("SWEEP_EXTRA", "{}"))}
VARIANTS = {
    "A_base": {},
    "B_seed1": {"seed": 1},
    "C_drop45_wd40": {"dropout": 0.45, "weight_drop": 0.4},
    "D_writtenkey30": {"written_key": 0.3},
    "E_width256": {"d_model": 256, "head_hidden": 256, "dropout": 0.4},
    "F_layers3": {"n_layers": 3},
    "G_ctx320": {"window_notes": 320, "max_call": 288},
    "H_sched40_decay10": {"schedule_epochs": 40, "max_epochs": 40, "weight_decay": 0.1},
}


def config(changes):
    text = BASE
    for key, value in {**COMMON, **changes}.items():
        pat = re.compile(rf"^{key}\s*=.*$", re.M)
        if pat.search(text):
            text = pat.sub(f"{key} = {value}", text, count=1)
        else:
            text += f"\n{key} = {value}\n"  # (the file ends in its [train] section)
    return text


if os.environ.get("SWEEP_ONLY"):
    VARIANTS = {k: v for k, v in VARIANTS.items() if k in os.environ["SWEEP_ONLY"].split(",")}


def main():
    WORK.mkdir(parents=True, exist_ok=True)
    OUT.mkdir(parents=True, exist_ok=True)
    procs = {}
    t0 = time.time()
    for name, changes in VARIANTS.items():
        cfg = WORK / f"{name}.toml"
        cfg.write_text(config(changes))
        log = open(WORK / f"{name}.log", "w")
        procs[name] = subprocess.Popen([sys.executable, __file__, "--one", DATA, str(cfg),
                                        str(WORK / name)], stdout=log, stderr=subprocess.STDOUT,
                                       env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = float(sys.argv[1]) if len(sys.argv) > 1 else 470.0
    while time.time() - t0 < deadline and any(p.poll() is None for p in procs.values()):
        time.sleep(5)
        if int(time.time() - t0) % 60 < 5:
            shutil.which("nvidia-smi") and subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader"])
            for name in procs:
                lines = (WORK / f"{name}.log").read_text().splitlines()
                print(name, lines[-1][:150] if lines else "", flush=True)
    for p in procs.values():
        if p.poll() is None:
            p.terminate()
    for p in procs.values():  # SIGTERM: the step in hand ends and last.pt is saved
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
    summary = {}
    for name in procs:
        text = (WORK / f"{name}.log").read_text()
        vals = [(int(s), float(v)) for s, v in re.findall(r"valid step (\d+): answer NLL ([\d.]+)", text)]
        steps = re.findall(r"step (\d+) epoch", text)
        best = min(vals, key=lambda sv: sv[1]) if vals else None
        summary[name] = {"changes": VARIANTS[name], "rc": procs[name].returncode, "finished": "done:" in text,
                         "last_step": int(steps[-1]) if steps else 0, "best_step": best and best[0],
                         "best_valid_nll": best and best[1], "valid_curve": vals}
    summary["_wall_s"] = time.time() - t0
    (OUT / "summary.json").write_text(json.dumps(summary, indent=1))
    with tarfile.open(OUT / "logs.tar.gz", "w:gz") as tar:
        for f in WORK.glob("*.log"):
            tar.add(f, arcname=f.name)
        for f in WORK.glob("*.toml"):
            tar.add(f, arcname=f.name)
    ranked = sorted((n for n in procs if summary[n]["best_valid_nll"]), key=lambda n: summary[n]["best_valid_nll"])
    for name in ranked[:6]:
        if (WORK / name / "best.pt").exists():
            (OUT / f"{name}.pt").write_bytes((WORK / name / "best.pt").read_bytes())
    for name in ranked:
        print(name, summary[name]["best_valid_nll"], summary[name]["best_step"], summary[name]["last_step"],
              summary[name]["finished"])
    print("wall", summary["_wall_s"])


def one(data, cfg, out):
    """One run: `improv train`, the feel's fit skipped."""
    import improv.train.feel as feel
    from improv.train.trainer import train

    def no_feel(solos):
        raise ValueError("skipped in the sweep")

    feel.fit_feel = no_feel
    train(data, cfg, out)


if __name__ == "__main__":
    one(*sys.argv[2:5]) if sys.argv[1:2] == ["--one"] else main()
