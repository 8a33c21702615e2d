"""``python -m benchmarks COMMAND [...]``: performance benchmarks (and, later, the leaderboard)."""

import sys

COMMANDS = {
    "train_speed": "benchmarks.train_speed",
    "fusion_effect": "benchmarks.fusion_effect",
    "seed_noise": "benchmarks.seed_noise",
    "planted_effects": "benchmarks.planted_effects",
    "ablation_efficiency": "benchmarks.ablation_efficiency",
    "harness_overhead": "benchmarks.harness_overhead",
    "gpu_check": "benchmarks.gpu_check",
    "perf": "benchmarks.perf",
    "leaderboard": "benchmarks.leaderboard.cli",
    "leaderboard_scale": "benchmarks.leaderboard_scale",
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: python -m benchmarks {" + ",".join(COMMANDS) + "} [options]")
        for name, mod in COMMANDS.items():
            print(f"  {name:<16} {__import__(mod, fromlist=['__doc__']).__doc__.splitlines()[0]}")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    import importlib

    return importlib.import_module(COMMANDS[argv[0]]).main(argv[1:])


sys.exit(main(sys.argv[1:]))
