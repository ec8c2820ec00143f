"""`callbot models …` against a local HTTP server serving small fake model files."""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from callbot.cli import app
from tests.conftest import free_port

VOSK_FILES = {"am/final.mdl": b"acoustic model " * 300, "conf/model.conf": b"--min-active=200\n",
              "graph/Gr.fst": b"G" * 5000, "graph/HCLr.fst": b"H" * 7000}
VOICE = b"onnx weights " * 20000  # 260 kB: big enough to be cut mid-way
VOICE_JSON = b'{"audio": {"sample_rate": 22050}, "espeak": {"voice": "fr"}}'


def zipped(files: dict[str, bytes], top: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in files.items():
            z.writestr(f"{top}/{name}", data)
        z.writestr(f"{top}/README", b"not in the manifest, kept anyway")
    return out.getvalue()


@dataclass
class FakeHost:
    """Serves `files` by path; honours Range; can cut one response short, or lie about a file."""

    files: dict[str, bytes]
    cut_after: dict[str, int] = field(default_factory=dict)  # path → bytes sent before dropping
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def host() -> Iterator[FakeHost]:
    state = FakeHost(files={
        "vosk/vosk-model-small-fr-test.zip": zipped(VOSK_FILES, "vosk-model-small-fr-test"),
        "voices/fr/fake-voice.onnx": VOICE,
        "voices/fr/fake-voice.onnx.json": VOICE_JSON,
    })

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

        def do_GET(self) -> None:  # noqa: N802
            path = self.path.lstrip("/")
            state.requests.append((path, self.headers.get("Range")))
            data = state.files.get(path)
            if data is None:
                self.send_error(404)
                return
            start = 0
            if rng := self.headers.get("Range"):
                start = int(rng.removeprefix("bytes=").split("-")[0])
                if start >= len(data):
                    self.send_error(416)
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if path in state.cut_after:  # a dropped connection half-way through
                self.wfile.write(body[: state.cut_after.pop(path)])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{port}"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    """Same shape as the real manifest; the hosts are unreachable unless --base-url is given."""
    data = {
        "hosts": {"models": "http://official-host.invalid"},
        "models": {
            "vosk-model-small-fr-test": {
                "kind": "vosk", "host": "models", "archive": "vosk/vosk-model-small-fr-test.zip",
                "dest": "vosk-model-small-fr-test",
                "files": {p: {"size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
                          for p, d in VOSK_FILES.items()},
            },
            "fake-voice": {
                "kind": "piper", "host": "models",
                "files": {
                    "fake-voice.onnx": {"url": "voices/fr/fake-voice.onnx", "size": len(VOICE),
                                        "md5": hashlib.md5(VOICE).hexdigest()},
                    "fake-voice.onnx.json": {"url": "voices/fr/fake-voice.onnx.json",
                                             "md5": hashlib.md5(VOICE_JSON).hexdigest()},
                },
            },
        },
    }
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def cli(*args: str):  # noqa: ANN201
    return CliRunner().invoke(app, ["models", *args])


def test_download_verifies_and_lists(host: FakeHost, manifest: Path, tmp_path: Path) -> None:
    dest = tmp_path / "models"
    result = cli("download", "--dest", str(dest), "--manifest", str(manifest), "--base-url", host.url)
    assert result.exit_code == 0, result.output
    assert "vosk-model-small-fr-test : vérifié" in result.output
    assert (dest / "vosk-model-small-fr-test" / "am" / "final.mdl").read_bytes() == VOSK_FILES["am/final.mdl"]
    assert (dest / "fake-voice.onnx").read_bytes() == VOICE
    # Only the finished model remains: no archive, no partial file, no staging directory.
    assert sorted(p.name for p in dest.iterdir()) == ["fake-voice.onnx", "fake-voice.onnx.json",
                                                      "vosk-model-small-fr-test"]

    listed = cli("list", "--dest", str(dest), "--manifest", str(manifest))
    assert listed.exit_code == 0 and listed.output.count("présent") == 2
    verified = cli("verify", "--dest", str(dest), "--manifest", str(manifest))
    assert verified.exit_code == 0 and verified.output.count("vérifié") == 2

    # Nothing is fetched again once verified.
    before = len(host.requests)
    again = cli("download", "--dest", str(dest), "--manifest", str(manifest), "--base-url", host.url)
    assert again.exit_code == 0 and len(host.requests) == before


def test_download_resumes_after_a_dropped_connection(host: FakeHost, manifest: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "models"
    monkeypatch.setenv("CALLBOT_MODELS_BASE_URL", host.url)  # the other way to point at a mirror
    host.cut_after["voices/fr/fake-voice.onnx"] = 100_000
    first = cli("download", "--dest", str(dest), "--manifest", str(manifest), "--only", "fake-voice")
    assert first.exit_code == 1
    assert "relancez" in first.output
    assert not (dest / "fake-voice.onnx").exists()

    second = cli("download", "--dest", str(dest), "--manifest", str(manifest), "--only", "fake-voice")
    assert second.exit_code == 0, second.output
    assert ("voices/fr/fake-voice.onnx", "bytes=100000-") in host.requests
    assert (dest / "fake-voice.onnx").read_bytes() == VOICE


def test_checksum_mismatch_is_rejected_and_nothing_is_kept(host: FakeHost, manifest: Path,
                                                           tmp_path: Path) -> None:
    dest = tmp_path / "models"
    host.files["voices/fr/fake-voice.onnx"] = VOICE[:-5] + b"EVIL!"  # same size, other bytes
    result = cli("download", "--dest", str(dest), "--manifest", str(manifest), "--base-url", host.url,
                 "--only", "fake-voice")
    assert result.exit_code == 1
    assert "somme de contrôle incorrecte" in result.output
    assert not (dest / "fake-voice.onnx").exists()
    assert not [p for p in dest.iterdir() if p.name.endswith(".part")]


def test_a_corrupt_archive_content_is_rejected(host: FakeHost, manifest: Path, tmp_path: Path) -> None:
    dest = tmp_path / "models"
    host.files["vosk/vosk-model-small-fr-test.zip"] = zipped({**VOSK_FILES, "graph/Gr.fst": b"g" * 5000},
                                                             "vosk-model-small-fr-test")
    result = cli("download", "--dest", str(dest), "--manifest", str(manifest), "--base-url", host.url,
                 "--only", "vosk-model-small-fr-test")
    assert result.exit_code == 1
    assert "graph/Gr.fst" in result.output
    assert not (dest / "vosk-model-small-fr-test").exists()
    assert list(dest.iterdir()) == []  # archive and staging directory removed


def test_offline_is_a_clear_error(manifest: Path, tmp_path: Path) -> None:
    result = cli("download", "--dest", str(tmp_path / "m"), "--manifest", str(manifest))
    assert result.exit_code == 1
    assert "impossible de joindre official-host.invalid" in result.output
    closed = f"http://127.0.0.1:{free_port()}"
    result = cli("download", "--dest", str(tmp_path / "m"), "--manifest", str(manifest), "--base-url", closed)
    assert result.exit_code == 1 and "impossible de joindre 127.0.0.1" in result.output


def test_verify_fails_on_a_damaged_file(host: FakeHost, manifest: Path, tmp_path: Path) -> None:
    dest = tmp_path / "models"
    done = cli("download", "--dest", str(dest), "--manifest", str(manifest), "--base-url", host.url)
    assert done.exit_code == 0
    model_conf = dest / "vosk-model-small-fr-test" / "conf" / "model.conf"
    model_conf.write_bytes(b"--min-active=999\n")  # same size, different content
    result = cli("verify", "--dest", str(dest), "--manifest", str(manifest))
    assert result.exit_code == 1
    assert "CORROMPU" in result.output and "conf/model.conf" in result.output
    assert cli("verify", "--dest", str(dest), "--manifest", str(manifest), "--only", "nope").exit_code == 2


def test_the_shipped_manifest_names_the_official_french_models() -> None:
    from callbot.speech.models import load_manifest

    m = load_manifest()
    assert set(m.models) == {"vosk-model-small-fr-0.22", "fr_FR-siwis-medium"}
    vosk = m.models["vosk-model-small-fr-0.22"]
    assert m.url(vosk, vosk.archive) == "https://alphacephei.com/vosk/models/vosk-model-small-fr-0.22.zip"
    assert {f.path for f in vosk.files} >= {"graph/Gr.fst", "graph/HCLr.fst", "am/final.mdl"}
    voice = m.models["fr_FR-siwis-medium"]
    onnx = next(f for f in voice.files if f.path.endswith(".onnx"))
    assert m.url(voice, onnx.url) == ("https://huggingface.co/rhasspy/piper-voices/resolve/v1.0.0/"
                                      "fr/fr_FR/siwis/medium/fr_FR-siwis-medium.onnx")
    assert onnx.md5 == "20e876e8c839e9b11a26085858f2300c"
