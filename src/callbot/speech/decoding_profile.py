"""Vosk decoding profiles: the model's own search settings, or a cheaper search.

Kaldi reads its search settings (`--beam`, `--max-active`, `--lattice-beam`) from the model's
`conf/model.conf` when the model loads; Vosk's API cannot change them afterwards. A profile is a
shadow copy of the model folder: every file a symbolic link to the original except
`conf/model.conf`, rewritten with the profile's values. Nothing is copied (a few hundred bytes), the
original stays untouched, and the shadow is rebuilt whenever the model's configuration changes.

What a cheaper search costs in accuracy and saves in CPU: `python bench/bench_vosk_profile.py`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOT = Path(tempfile.gettempdir()) / "callbot-vosk-profiles"


@dataclass(frozen=True)
class DecodingProfile:
    name: str
    beam: float | None = None  # None: the model's own value
    max_active: int | None = None
    lattice_beam: float | None = None

    def options(self) -> dict[str, str]:
        values = {"--beam": self.beam, "--max-active": self.max_active, "--lattice-beam": self.lattice_beam}
        return {k: str(v) for k, v in values.items() if v is not None}


PROFILES = {
    "model": DecodingProfile("model"),
    # A narrower search (Korean test model: see bench/bench_vosk_profile.py for CPU and agreement).
    "fast": DecodingProfile("fast", beam=8.0, max_active=1500, lattice_beam=2.0),
}


def rewrite_conf(text: str, options: dict[str, str]) -> str:
    """model.conf with `options` replacing (or added to) the same-named lines."""
    lines = [line for line in text.splitlines() if line.split("=", 1)[0].strip() not in options]
    lines += [f"{k}={v}" for k, v in options.items()]
    return "\n".join(lines) + "\n"


def profiled_model_dir(model_dir: Path, profile: DecodingProfile, root: Path = DEFAULT_ROOT) -> Path:
    """The folder Vosk should load for `profile`: `model_dir` itself, or its shadow copy."""
    options = profile.options()
    model_dir = Path(model_dir).resolve()
    conf = model_dir / "conf" / "model.conf"
    if not options or not conf.is_file():
        return model_dir
    text = rewrite_conf(conf.read_text(), options)
    key = hashlib.sha256(f"{model_dir}\n{text}".encode()).hexdigest()[:12]
    target = Path(root) / f"{model_dir.name}-{profile.name}-{key}"
    if (target / "conf" / "model.conf").is_file():
        return target
    Path(root).mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=root))
    try:
        for entry in model_dir.iterdir():
            if entry.name != "conf":
                (build / entry.name).symlink_to(entry)
        (build / "conf").mkdir()
        for entry in (model_dir / "conf").iterdir():
            if entry.name != "model.conf":
                (build / "conf" / entry.name).symlink_to(entry)
        (build / "conf" / "model.conf").write_text(text)
        os.replace(build, target)  # atomic: two processes building at once both end up with one
    except OSError:
        shutil.rmtree(build, ignore_errors=True)
        if not (target / "conf" / "model.conf").is_file():
            raise
    return target
